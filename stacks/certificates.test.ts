import { describe, expect, it } from "vitest";
import { createCertificates, type CertificatesArgs } from "./certificates";
import { inputs, ofType, one, recordComponent } from "./testing/harness";

const base: Omit<CertificatesArgs, "certificate"> = {
  appName: "ce",
  encryption: { kind: "SSE-KMS", keyArn: "arn:aws:kms:eu-central-1:123456789012:key/k" },
  accessLogsBucket: "logs-bucket",
};

describe("createCertificates", () => {
  it("makes no bucket in ACM mode and passes the certificate on", async () => {
    const { resources, result } = await recordComponent((opts) =>
      createCertificates({ ...base, certificate: { mode: "ACM", authMode: "anonymous", arn: "arn:aws:acm:eu-central-1:1:certificate/x" } }, opts),
    );
    expect(resources.filter((r) => r.type.startsWith("aws:s3"))).toEqual([]);
    expect(result).toMatchObject({ mode: "ACM", acmCertificateArn: "arn:aws:acm:eu-central-1:1:certificate/x", objectArns: [] });
  });

  it("makes a private bucket in FROMS3 mode, readable only for the certificate and key", async () => {
    const { resources, result } = await recordComponent((opts) =>
      createCertificates({ ...base, certificate: { mode: "FROMS3", authMode: "anonymous", bucket: "ce-certs" } }, opts),
    );
    const bucket = one(resources, "aws:s3/bucket:Bucket");
    expect(inputs(bucket).bucketPrefix).toBe("ce-certs");
    expect(ofType(resources, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")).toHaveLength(1);
    expect(inputs(one(resources, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")).rules[0]
      .applyServerSideEncryptionByDefault.sseAlgorithm).toBe("aws:kms");
    expect(inputs(one(resources, "aws:s3/bucketLogging:BucketLogging"))).toMatchObject({ targetBucket: "logs-bucket", targetPrefix: "certificates/" });
    expect(result.objectArns).toEqual([`arn:aws:s3:::${result.bucketName}/certificate.crt`, `arn:aws:s3:::${result.bucketName}/certificate.key`]);
    // The private key should not outlive the deployment.
    expect(bucket.options.retainOnDelete).toBeUndefined();
    expect(inputs(bucket).forceDestroy).toBe(true);
  });

  it("adds the trust store for client authentication", async () => {
    const { result } = await recordComponent((opts) =>
      createCertificates({ ...base, certificate: { mode: "FROMS3", authMode: "clientauth", bucket: "ce-certs" } }, opts),
    );
    expect(result.objectArns.map((a: string) => a.split("/").pop())).toEqual(["certificate.crt", "certificate.key", "truststore.crt"]);
  });
});
