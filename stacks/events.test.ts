import { describe, expect, it } from "vitest";
import { PROBE_KEY_NAME } from "../app/src/storage/conditional-writes";
import { createDicomEvents, DEAD_LETTER_RETENTION_SECONDS, instanceStoredPattern, type EventsArgs } from "./events";
import { matchesPattern } from "./testing/event-pattern";
import { inputs, json, ofType, one, recordComponent } from "./testing/harness";

const DICOM_BUCKET = "st-dicom-0123456789abcdef0123456789";
const CERT_BUCKET = "st-certs-0123456789abcdef0123456789";
const INSTANCE = "1.2.826.0.1.3680043.8.498.1/1.2.826.0.1.3680043.8.498.2/1.2.826.0.1.3680043.8.498.3.dcm";

/**
 * An S3 event as EventBridge delivers it, in the shape AWS documents for S3's EventBridge
 * events ("EventBridge event message structure", Amazon S3 User Guide): the envelope, then
 * detail.bucket.name and detail.object.key among the object's other attributes.
 */
function s3Event(detailType: string, bucket: string, key: string, reason = "PutObject") {
  return {
    version: "0",
    id: "5f1c6d1e-0c7a-4d0e-9d44-7c2c1f3e9a10",
    "detail-type": detailType,
    source: "aws.s3",
    account: "123456789012",
    time: "2026-11-30T03:12:45Z",
    region: "eu-central-1",
    resources: [`arn:aws:s3:::${bucket}`],
    detail: {
      version: "0",
      bucket: { name: bucket },
      object: { key, size: 528_604, etag: "7e4c5b0d2f0f4ab3a3f1a8b1f1c9d2e4", "version-id": "Wm3vT.q7hXo0yR5pJd2nK8sL1aB4cD6e", sequencer: "00674A1B2C3D4E5F60" },
      "request-id": "QX7V2M9K4T1R8B3N",
      requester: "123456789012",
      "source-ip-address": "10.41.1.23",
      reason,
    },
  };
}

describe("instanceStoredPattern (checked with stacks/testing/event-pattern.ts: exact values, prefix, suffix, wildcard only)", () => {
  const pattern = instanceStoredPattern(DICOM_BUCKET, "dicom");

  it("matches an instance the service stored under the prefix, by PutObject or a multipart upload", () => {
    expect(matchesPattern(pattern, s3Event("Object Created", DICOM_BUCKET, `dicom/${INSTANCE}`))).toBe(true);
    expect(matchesPattern(pattern, s3Event("Object Created", DICOM_BUCKET, `dicom/${INSTANCE}`, "CompleteMultipartUpload"))).toBe(true);
  });

  it("does not match the certificate bucket's objects, even a .dcm under the same prefix", () => {
    expect(matchesPattern(pattern, s3Event("Object Created", CERT_BUCKET, "certificate.crt"))).toBe(false);
    expect(matchesPattern(pattern, s3Event("Object Created", CERT_BUCKET, `dicom/${INSTANCE}`))).toBe(false);
  });

  it("does not match other prefixes, a prefix that only starts the same, or the bucket's root", () => {
    expect(matchesPattern(pattern, s3Event("Object Created", DICOM_BUCKET, `other/${INSTANCE}`))).toBe(false);
    expect(matchesPattern(pattern, s3Event("Object Created", DICOM_BUCKET, `dicom-old/${INSTANCE}`))).toBe(false);
    expect(matchesPattern(pattern, s3Event("Object Created", DICOM_BUCKET, INSTANCE))).toBe(false);
  });

  it("does not match .json or other objects under the prefix", () => {
    expect(matchesPattern(pattern, s3Event("Object Created", DICOM_BUCKET, "dicom/1.2.3/1.2.3.4/metadata.json"))).toBe(false);
    expect(matchesPattern(pattern, s3Event("Object Created", DICOM_BUCKET, "dicom/1.2.3/1.2.3.4/5.dcm.json"))).toBe(false);
    expect(matchesPattern(pattern, s3Event("Object Created", DICOM_BUCKET, "dicom/1.2.3.dcm/readme"))).toBe(false);
    // The app's conditional-writes probe (app/src/storage/conditional-writes.ts) is no instance.
    expect(matchesPattern(pattern, s3Event("Object Created", DICOM_BUCKET, `dicom/${PROBE_KEY_NAME}`))).toBe(false);
  });

  it("does not match other S3 events of the instance (a delete is no new instance)", () => {
    expect(matchesPattern(pattern, s3Event("Object Deleted", DICOM_BUCKET, `dicom/${INSTANCE}`, "DeleteObject"))).toBe(false);
    expect(matchesPattern(pattern, s3Event("Object Tags Added", DICOM_BUCKET, `dicom/${INSTANCE}`, "PutObjectTagging"))).toBe(false);
  });

  it("without a prefix matches every .dcm of the bucket and nothing else", () => {
    const rootPattern = instanceStoredPattern(DICOM_BUCKET, "");
    expect(rootPattern).toMatchObject({ detail: { object: { key: [{ suffix: ".dcm" }] } } });
    expect(matchesPattern(rootPattern, s3Event("Object Created", DICOM_BUCKET, INSTANCE))).toBe(true);
    expect(matchesPattern(rootPattern, s3Event("Object Created", DICOM_BUCKET, "1.2.3/1.2.3.4/metadata.json"))).toBe(false);
    expect(matchesPattern(rootPattern, s3Event("Object Created", CERT_BUCKET, INSTANCE))).toBe(false);
  });

  it("takes a nested prefix as it is", () => {
    const nested = instanceStoredPattern(DICOM_BUCKET, "site-a/ct");
    expect(matchesPattern(nested, s3Event("Object Created", DICOM_BUCKET, `site-a/ct/${INSTANCE}`))).toBe(true);
    expect(matchesPattern(nested, s3Event("Object Created", DICOM_BUCKET, `site-a/mr/${INSTANCE}`))).toBe(false);
  });

  it("refuses a prefix that a wildcard would read as an operator", () => {
    expect(() => instanceStoredPattern(DICOM_BUCKET, "a*b")).toThrow(/\*/);
  });
});

describe("the test matcher itself", () => {
  it("requires every field of the pattern and refuses operators it does not implement", () => {
    expect(matchesPattern({ source: ["aws.s3"], detail: { missing: ["x"] } }, s3Event("Object Created", DICOM_BUCKET, "k"))).toBe(false);
    expect(() => matchesPattern({ detail: { object: { size: [{ numeric: [">", 0] }] } } }, s3Event("Object Created", DICOM_BUCKET, "k"))).toThrow(/numeric/);
    expect(matchesPattern({ resources: [`arn:aws:s3:::${DICOM_BUCKET}`] }, s3Event("Object Created", DICOM_BUCKET, "k"))).toBe(true);
  });
});

const args: EventsArgs = {
  appName: "st",
  dicomBucket: { name: DICOM_BUCKET, arn: `arn:aws:s3:::${DICOM_BUCKET}` },
  prefix: "dicom",
  settings: { enabled: true, retentionSeconds: 86_400, maxReceiveCount: 3 },
};

describe("createDicomEvents", () => {
  it("sends the bucket's events to EventBridge and the rule's matches to an encrypted queue with a dead-letter queue", async () => {
    const { resources, result } = await recordComponent((opts) => createDicomEvents(args, opts));
    expect(inputs(one(resources, "aws:s3/bucketNotification:BucketNotification"))).toMatchObject({ bucket: DICOM_BUCKET, eventbridge: true });

    const queue = one(resources, "aws:sqs/queue:Queue", "st-instances");
    const dlq = one(resources, "aws:sqs/queue:Queue", "st-instances-dlq");
    expect(inputs(queue)).toMatchObject({ sqsManagedSseEnabled: true, messageRetentionSeconds: 86_400 });
    expect(inputs(dlq)).toMatchObject({ sqsManagedSseEnabled: true, messageRetentionSeconds: DEAD_LETTER_RETENTION_SECONDS });
    expect(json(inputs(queue).redrivePolicy)).toEqual({ deadLetterTargetArn: "arn:aws:sqs:eu-central-1:123456789012:st-instances-dlq", maxReceiveCount: 3 });

    const rule = one(resources, "aws:cloudwatch/eventRule:EventRule");
    expect(json(inputs(rule).eventPattern)).toEqual(instanceStoredPattern(DICOM_BUCKET, "dicom"));
    const target = one(resources, "aws:cloudwatch/eventTarget:EventTarget");
    expect(inputs(target)).toMatchObject({
      rule: "st-instance-stored",
      arn: "arn:aws:sqs:eu-central-1:123456789012:st-instances",
      deadLetterConfig: { arn: "arn:aws:sqs:eu-central-1:123456789012:st-instances-dlq" },
    });
    expect(result).toMatchObject({
      queueUrl: "https://sqs.eu-central-1.amazonaws.com/123456789012/st-instances",
      queueArn: "arn:aws:sqs:eu-central-1:123456789012:st-instances",
    });
  });

  it("lets only the rule send to either queue, and nobody without TLS", async () => {
    const { resources } = await recordComponent((opts) => createDicomEvents(args, opts));
    const policies = ofType(resources, "aws:sqs/queuePolicy:QueuePolicy");
    expect(policies.map((p) => inputs(p).queueUrl).sort()).toEqual([
      "https://sqs.eu-central-1.amazonaws.com/123456789012/st-instances",
      "https://sqs.eu-central-1.amazonaws.com/123456789012/st-instances-dlq",
    ]);
    for (const p of policies) {
      const [allow, deny] = json(inputs(p).policy).Statement;
      expect(allow).toMatchObject({
        Effect: "Allow",
        Principal: { Service: "events.amazonaws.com" },
        Action: "sqs:SendMessage",
        Condition: { ArnEquals: { "aws:SourceArn": "arn:aws:events:eu-central-1:123456789012:rule/st-instance-stored" } },
      });
      expect(deny).toMatchObject({ Effect: "Deny", Principal: "*", Condition: { Bool: { "aws:SecureTransport": "false" } } });
    }
    // The target is created once the policies allow its deliveries.
    const target = one(resources, "aws:cloudwatch/eventTarget:EventTarget");
    for (const p of policies) expect(target.dependencies).toContain(p.urn);
  });

  it("lets only the instance queue redrive into the dead-letter queue", async () => {
    const { resources } = await recordComponent((opts) => createDicomEvents(args, opts));
    const allow = one(resources, "aws:sqs/redriveAllowPolicy:RedriveAllowPolicy");
    expect(json(inputs(allow).redriveAllowPolicy)).toEqual({
      redrivePermission: "byQueue",
      sourceQueueArns: ["arn:aws:sqs:eu-central-1:123456789012:st-instances"],
    });
  });

  it("builds nothing when events are off", async () => {
    const { resources, result } = await recordComponent((opts) => createDicomEvents({ ...args, settings: { ...args.settings, enabled: false } }, opts));
    expect(resources.filter((r) => r.type.startsWith("aws:") && r.type !== "pulumi:providers:aws")).toEqual([]);
    expect(result).toBeUndefined();
  });
});
