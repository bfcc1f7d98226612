import { describe, expect, it } from "vitest";
import type { PolicyResource, ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import { resourceValidationArgs } from "./evaluate";
import { alarmsNotify, bucketsEncrypted, deploymentTag, noPublicBuckets, noWorldIngress, operationalAlarms, queuesEncrypted, REQUIRED_ALARM_METRICS, T, tlsListeners } from "./rules";

function resource(type: string, name: string, props: Record<string, any>, extra: Partial<PolicyResource> = {}): PolicyResource {
  return {
    type,
    name,
    urn: `urn:pulumi:s::p::${type}::${name}`,
    props,
    opts: { protect: false, ignoreChanges: [], aliases: [], customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 }, additionalSecretOutputs: [] },
    dependencies: [],
    propertyDependencies: {},
    isType: () => false,
    asType: () => undefined,
    ...extra,
  };
}

async function stackViolations(policy: StackValidationPolicy, resources: PolicyResource[]): Promise<string[]> {
  const found: string[] = [];
  await policy.validateStack(
    { resources, stackTags: new Map(), getConfig: () => ({}) as any, notApplicable: () => { throw new Error("n/a"); } },
    (message) => found.push(message),
  );
  return found;
}

async function resourceViolations(policy: ResourceValidationPolicy, r: PolicyResource): Promise<string[]> {
  const found: string[] = [];
  for (const validate of [policy.validateResource ?? []].flat()) {
    await validate(
      resourceValidationArgs(r, () => ({}) as any, () => { throw new Error("n/a"); }),
      (message) => found.push(message),
    );
  }
  return found;
}

const bucket = resource(T.bucket, "dicom", { id: "dicom-123", bucketPrefix: "dicom" });
const kms = (extra: Record<string, any> = {}) =>
  resource(T.encryption, "dicom-encryption", {
    bucket: "dicom-123",
    rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "aws:kms", kmsMasterKeyId: "k" }, bucketKeyEnabled: true, ...extra }],
  });
const blockAll = (overrides: Record<string, boolean> = {}) =>
  resource(T.publicAccessBlock, "dicom-public-access", {
    bucket: "dicom-123",
    blockPublicAcls: true,
    blockPublicPolicy: true,
    ignorePublicAcls: true,
    restrictPublicBuckets: true,
    ...overrides,
  });

describe("s3-buckets-encrypted", () => {
  it("passes SSE-KMS with a bucket key and SSE-S3", async () => {
    expect(await stackViolations(bucketsEncrypted, [bucket, kms()])).toEqual([]);
    const sseS3 = resource(T.encryption, "e", { bucket: "dicom-123", rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" } }] });
    expect(await stackViolations(bucketsEncrypted, [bucket, sseS3])).toEqual([]);
  });

  it("flags a bucket without default encryption", async () => {
    expect(await stackViolations(bucketsEncrypted, [bucket])).toEqual(["bucket dicom has no default encryption configuration"]);
  });

  it("flags SSE-KMS without a bucket key", async () => {
    expect(await stackViolations(bucketsEncrypted, [bucket, kms({ bucketKeyEnabled: false })])).toEqual([
      "bucket dicom uses SSE-KMS without a bucket key",
    ]);
  });

  it("links the configuration through property dependencies when the name is not known yet", async () => {
    const pending = resource(T.bucket, "dicom", { bucketPrefix: "dicom" });
    const config = resource(T.encryption, "e", { rules: kms().props.rules }, { propertyDependencies: { bucket: [pending] } });
    expect(await stackViolations(bucketsEncrypted, [pending, config])).toEqual([]);
  });
});

describe("s3-no-public-access", () => {
  it("passes a fully blocked bucket with a TLS-only policy", async () => {
    const policy = resource(T.bucketPolicy, "p", {
      bucket: "dicom-123",
      policy: JSON.stringify({ Statement: [{ Effect: "Deny", Principal: "*", Action: "s3:*", Condition: { Bool: { "aws:SecureTransport": "false" } } }] }),
    });
    expect(await stackViolations(noPublicBuckets, [bucket, blockAll(), policy])).toEqual([]);
  });

  it("flags a missing or partial public access block", async () => {
    expect(await stackViolations(noPublicBuckets, [bucket])).toEqual(["bucket dicom does not block all four kinds of public access"]);
    expect(await stackViolations(noPublicBuckets, [bucket, blockAll({ restrictPublicBuckets: false })])).toHaveLength(1);
  });

  it("flags a policy that allows everyone and a public ACL", async () => {
    const open = resource(T.bucketPolicy, "open", { policy: { Statement: [{ Effect: "Allow", Principal: { AWS: "*" }, Action: "s3:GetObject" }] } });
    const acl = resource(T.bucketAcl, "acl", { bucket: "dicom-123", acl: "public-read" });
    expect(await stackViolations(noPublicBuckets, [bucket, blockAll(), open, acl])).toEqual([
      "acl sets the public ACL public-read",
      'open allows "s3:GetObject" to everyone',
    ]);
  });
});

describe("lb-tls-1-3-policy", () => {
  it("passes TLS listeners with a TLS 1.3 policy and ignores TCP ones", async () => {
    expect(await resourceViolations(tlsListeners, resource(T.listener, "l", { protocol: "TLS", sslPolicy: "ELBSecurityPolicy-TLS13-1-2-2021-06" }))).toEqual([]);
    expect(await resourceViolations(tlsListeners, resource(T.listener, "l", { protocol: "TCP" }))).toEqual([]);
  });

  it.each([undefined, "ELBSecurityPolicy-2016-08", "ELBSecurityPolicy-TLS-1-0-2015-04"])("flags %s", async (sslPolicy) => {
    const found = await resourceViolations(tlsListeners, resource(T.listener, "l", { protocol: "TLS", sslPolicy }));
    expect(found).toHaveLength(1);
    expect(found[0]).toContain("ELBSecurityPolicy-TLS13-");
  });
});

describe("no-world-ingress", () => {
  it.each([
    [T.ingressRule, { cidrIpv4: "0.0.0.0/0", fromPort: 443 }],
    [T.ingressRule, { cidrIpv6: "::/0", fromPort: 443 }],
    [T.securityGroupRule, { type: "ingress", cidrBlocks: ["10.0.0.0/8", "0.0.0.0/0"], fromPort: 22 }],
    [T.securityGroup, { ingress: [{ cidrBlocks: ["0.0.0.0/0"], fromPort: 80 }] }],
  ])("flags %s admitting the world", async (type, props) => {
    expect(await resourceViolations(noWorldIngress, resource(type, "r", props))).toHaveLength(1);
  });

  it("passes restricted ingress and world-wide egress", async () => {
    expect(await resourceViolations(noWorldIngress, resource(T.ingressRule, "r", { cidrIpv4: "203.0.113.0/24" }))).toEqual([]);
    expect(await resourceViolations(noWorldIngress, resource(T.securityGroupRule, "r", { type: "egress", cidrBlocks: ["0.0.0.0/0"] }))).toEqual([]);
  });

  it("is advisory unless a stack's pack configuration makes it mandatory", () => {
    expect(noWorldIngress.enforcementLevel).toBe("advisory");
  });
});

describe("deployment-tag", () => {
  const provider = (defaultTags: unknown) => ({ type: "pulumi:providers:aws", name: "aws", urn: "urn:p", props: { defaultTags } });

  it("passes resources whose provider sets the tag, as JSON text or as an object", async () => {
    const text = provider(JSON.stringify({ tags: { deployment: "dev" } }));
    const object = provider({ tags: { deployment: "dev" } });
    expect(await resourceViolations(deploymentTag, resource("aws:ec2/vpc:Vpc", "v", {}, { provider: text }))).toEqual([]);
    expect(await resourceViolations(deploymentTag, resource("aws:ec2/vpc:Vpc", "v", {}, { provider: object }))).toEqual([]);
  });

  it("passes a resource tagged directly", async () => {
    expect(await resourceViolations(deploymentTag, resource("aws:ec2/vpc:Vpc", "v", { tags: { deployment: "dev" } }))).toEqual([]);
  });

  it("flags an AWS resource whose provider has no deployment tag", async () => {
    expect(await resourceViolations(deploymentTag, resource("aws:ec2/vpc:Vpc", "v", {}, { provider: provider(undefined) }))).toHaveLength(1);
    expect(await resourceViolations(deploymentTag, resource("aws:ec2/vpc:Vpc", "v", { tags: { deployment: " " } }))).toHaveLength(1);
  });

  it("leaves non-AWS resources alone", async () => {
    expect(await resourceViolations(deploymentTag, resource("awsx:ecr:Image", "i", {}))).toEqual([]);
  });
});

describe("sqs-queues-encrypted", () => {
  it("passes SSE-SQS and SSE-KMS, refuses a plain queue", async () => {
    expect(await resourceViolations(queuesEncrypted, resource(T.queue, "q", { sqsManagedSseEnabled: true }))).toEqual([]);
    expect(await resourceViolations(queuesEncrypted, resource(T.queue, "q", { kmsMasterKeyId: "alias/events" }))).toEqual([]);
    expect(await resourceViolations(queuesEncrypted, resource(T.queue, "q", { sqsManagedSseEnabled: false }))).toEqual(["queue q is not encrypted at rest"]);
  });
});

describe("alarms-notify", () => {
  it("refuses an alarm without actions or with actions off", async () => {
    const topic = ["arn:aws:sns:eu-central-1:123456789012:t"];
    expect(await resourceViolations(alarmsNotify, resource(T.metricAlarm, "a", { name: "a", alarmActions: topic }))).toEqual([]);
    expect(await resourceViolations(alarmsNotify, resource(T.metricAlarm, "a", { name: "a" }))).toEqual(["alarm a notifies nobody"]);
    expect(await resourceViolations(alarmsNotify, resource(T.metricAlarm, "a", { name: "a", alarmActions: topic, actionsEnabled: false }))).toEqual(["alarm a notifies nobody"]);
  });
});

describe("operational-alarms", () => {
  const service = resource(T.ecsService, "svc", {});
  const topic = ["arn:aws:sns:eu-central-1:123456789012:t"];
  const alarmOn = (metricName: string, actions = topic) =>
    metricName === "RunningTaskCount"
      ? resource(T.metricAlarm, metricName, { alarmActions: actions, metricQueries: [{ id: "r", metric: { metricName } }, { id: "e", expression: "1 - r" }] })
      : resource(T.metricAlarm, metricName, { alarmActions: actions, metricName });

  it("passes a service with an alarm on every required metric, metric math included", async () => {
    expect(await stackViolations(operationalAlarms, [service, ...REQUIRED_ALARM_METRICS.map((m) => alarmOn(m))])).toEqual([]);
  });

  it("names the metrics nobody hears about", async () => {
    const some = [alarmOn("UnHealthyHostCount"), alarmOn("CPUUtilization", [])];
    const [message] = await stackViolations(operationalAlarms, [service, ...some]);
    expect(message).toMatch(/RunningTaskCount/);
    expect(message).toMatch(/CPUUtilization/);
    expect(message).not.toMatch(/UnHealthyHostCount/);
  });

  it("is off by default and has nothing to say about a stack without a service", async () => {
    expect(operationalAlarms.enforcementLevel).toBe("disabled");
    expect(await stackViolations(operationalAlarms, [])).toEqual([]);
  });
});
