import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { X509Certificate } from "node:crypto";
import * as aws from "@pulumi/aws";
import { afterAll, describe, expect, it } from "vitest";
import { makePki } from "../nginx/testing/pki";
import { createCertificates, type CertificatesArgs } from "./certificates";
import type { CertificateConfig } from "./config";
import type { RecordedResource } from "./offline/record";
import { inputs, ofType, one, recordComponent } from "./testing/harness";

const base: Omit<CertificatesArgs, "certificate"> = {
  appName: "ce",
  accessLogsBucket: "logs-bucket",
  serverName: "ce-nlb-1.elb.eu-central-1.amazonaws.com",
};
const placeholderCa = fs.readFileSync(path.resolve(__dirname, "examples/placeholder-client-ca.crt"), "utf8");
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "stacks-certificates-"));
const pki = makePki(dir);
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function record(certificate: CertificateConfig) {
  return recordComponent((opts) => createCertificates({ ...base, certificate }, opts));
}

function objects(resources: RecordedResource[]): Record<string, RecordedResource> {
  return Object.fromEntries(ofType(resources, "aws:s3/bucketObjectv2:BucketObjectv2").map((r) => [inputs(r).key, r]));
}

describe("createCertificates", () => {
  it("makes no bucket in ACM mode and passes the certificate on", async () => {
    const { resources, result } = await record({ mode: "ACM", authMode: "anonymous", arn: "arn:aws:acm:eu-central-1:1:certificate/x" });
    expect(resources.filter((r) => r.type.startsWith("aws:s3") || r.type.startsWith("tls:"))).toEqual([]);
    expect(result).toMatchObject({ mode: "ACM", acmCertificateArn: "arn:aws:acm:eu-central-1:1:certificate/x", objectArns: [] });
  });

  it("FROMS3: a private bucket under SSE-S3 (never the DICOM key), readable only for the objects nginx needs, gone with the stack", async () => {
    const { resources, result } = await record({ mode: "FROMS3", authMode: "anonymous", source: "stack", bucket: "ce-certs" });
    const bucket = one(resources, "aws:s3/bucket:Bucket");
    expect(inputs(bucket).bucketPrefix).toBe("ce-certs");
    expect(ofType(resources, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")).toHaveLength(1);
    expect(inputs(one(resources, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")).rules[0]
      .applyServerSideEncryptionByDefault).toEqual({ sseAlgorithm: "AES256" });
    expect(inputs(one(resources, "aws:s3/bucketLogging:BucketLogging"))).toMatchObject({ targetBucket: "logs-bucket", targetPrefix: "certificates/" });
    expect(result.objectArns).toEqual([`arn:aws:s3:::${result.bucketName}/certificate.crt`, `arn:aws:s3:::${result.bucketName}/certificate.key`]);
    // The private key should not outlive the deployment.
    expect(bucket.options.retainOnDelete).toBeUndefined();
    expect(inputs(bucket).forceDestroy).toBe(true);
  });

  it("generates a certificate for the load balancer's name and writes it and its key (kept secret) into the bucket", async () => {
    const { resources, result } = await record({ mode: "FROMS3", authMode: "anonymous", source: "stack", bucket: "ce-certs" });
    const cert = inputs(one(resources, "tls:index/selfSignedCert:SelfSignedCert"));
    expect(cert).toMatchObject({ dnsNames: [base.serverName], allowedUses: expect.arrayContaining(["server_auth"]) });
    expect(cert.validityPeriodHours).toBeGreaterThan(cert.earlyRenewalHours);
    const written = objects(resources);
    expect(Object.keys(written).sort()).toEqual(["certificate.crt", "certificate.key"]);
    for (const o of Object.values(written)) expect(inputs(o).bucket).toBe(result.bucketName);
    expect(written["certificate.key"].secretInputs).toContain("content");
    expect(written["certificate.crt"].secretInputs).not.toContain("content");
    const x509 = new X509Certificate(inputs(written["certificate.crt"]).content);
    expect(x509.checkHost(String(base.serverName))).toBe(base.serverName);
    expect(result.serverCertificatePem).toBe(inputs(written["certificate.crt"]).content);
  });

  it("writes a certificate and key from config instead, and generates nothing", async () => {
    const { resources } = await record({
      mode: "FROMS3",
      authMode: "anonymous",
      source: "stack",
      bucket: "ce-certs",
      server: { certificate: { pem: pki.server.certPem, origin: "config" }, key: pki.server.keyPem },
    });
    expect(resources.filter((r) => r.type.startsWith("tls:"))).toEqual([]);
    const written = objects(resources);
    expect(inputs(written["certificate.crt"]).content).toBe(pki.server.certPem);
    expect(inputs(written["certificate.key"]).content).toBe(pki.server.keyPem);
    expect(written["certificate.key"].secretInputs).toContain("content");
  });

  it("adds the trust store for client authentication, as given, and lets nginx read the revocation list beside it", async () => {
    const { resources, result } = await record({
      mode: "FROMS3",
      authMode: "clientauth",
      source: "stack",
      bucket: "ce-certs",
      truststore: { pem: placeholderCa, origin: "file" },
    });
    expect(result.objectArns.map((a: string) => a.split("/").pop())).toEqual(["certificate.crt", "certificate.key", "truststore.crt", "crl.pem"]);
    expect(inputs(objects(resources)["truststore.crt"]).content).toBe(placeholderCa);
  });

  it("gives a digest of the objects that changes with any of them, so a new certificate restarts the tasks", async () => {
    const withCa = (pem: string) =>
      record({ mode: "FROMS3", authMode: "clientauth", source: "stack", bucket: "ce-certs", truststore: { pem, origin: "x" } });
    // One at a time: the mocks are process-wide.
    const a = await withCa(placeholderCa);
    const again = await withCa(placeholderCa);
    const b = await withCa(pki.ca.certPem);
    expect(a.result.contentSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(again.result.contentSha256).toBe(a.result.contentSha256);
    expect(b.result.contentSha256).not.toBe(a.result.contentSha256);
  });

  it("writes each object only after the bucket's encryption, versioning, public access block and policy", async () => {
    const { resources } = await record({ mode: "FROMS3", authMode: "clientauth", source: "stack", bucket: "ce-certs", truststore: { pem: placeholderCa, origin: "x" } });
    const posture = [
      "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
      "aws:s3/bucketVersioning:BucketVersioning",
      "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
      "aws:s3/bucketPolicy:BucketPolicy",
      "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
    ].map((type) => one(resources, type).urn);
    const written = Object.values(objects(resources));
    expect(written).toHaveLength(3);
    for (const o of written) expect(o.dependsOn.sort(), o.name).toEqual([...posture].sort());
  });

  it("names the server-side encryption on each object: SSE-S3, as the bucket's, never a KMS key", async () => {
    const cert: CertificateConfig = { mode: "FROMS3", authMode: "anonymous", source: "stack", bucket: "ce-certs" };
    const { resources } = await record(cert);
    for (const o of Object.values(objects(resources))) {
      expect(inputs(o), o.name).toMatchObject({ serverSideEncryption: "AES256" });
      expect(inputs(o).kmsKeyId, o.name).toBeUndefined();
    }
  });

  it("writes the objects through the object provider when given one", async () => {
    const { resources } = await recordComponent((opts) => {
      const objectProvider = new aws.Provider("ce-objects", { region: "eu-central-1" });
      return createCertificates({ ...base, objectProvider, certificate: { mode: "FROMS3", authMode: "anonymous", source: "stack", bucket: "ce-certs" } }, opts);
    });
    for (const o of Object.values(objects(resources))) expect(o.provider, o.name).toMatch(/::pulumi:providers:aws::ce-objects::/);
    expect(one(resources, "aws:s3/bucket:Bucket").provider).toMatch(/::test-aws::/);
  });

  it("external source: writes nothing, and the task role may read exactly the files nginx reads from the named bucket", async () => {
    const { resources, result } = await record({ mode: "FROMS3", authMode: "clientauth", source: "external", bucket: "site-tls" });
    expect(resources.filter((r) => r.type.startsWith("aws:s3") || r.type.startsWith("tls:"))).toEqual([]);
    expect(result.objectArns).toEqual([
      "arn:aws:s3:::site-tls/certificate.crt",
      "arn:aws:s3:::site-tls/certificate.key",
      "arn:aws:s3:::site-tls/truststore.crt",
      "arn:aws:s3:::site-tls/crl.pem",
    ]);
    expect(result.bucketName).toBe("site-tls");
    expect(result.contentSha256).toBeUndefined();
  });
});
