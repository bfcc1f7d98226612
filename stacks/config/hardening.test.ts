// The keys that harden a deployment: duplicate policy and body rate (app), per-client
// connections (front), revocation and subject allowlist (certificate), drain and ECS Exec (fargate), data readers and the key administrator,
// interface endpoints (network), and allowWorldIngress.
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, parseConfig, type StackConfig } from "../config";
import { configMap } from "../testing/harness";

const REPO = path.resolve(__dirname, "../..");
const CA = "stacks/examples/placeholder-client-ca.crt";
const CRL = "-----BEGIN X509 CRL-----\nMIIBFAKECRLFORSHAPEONLY\n-----END X509 CRL-----\n";
const clientauth = (extra: Record<string, unknown> = {}) => ({ certificate: { mode: "FROMS3", authMode: "clientauth", truststore: CA, ...extra } });
const external = (extra: Record<string, unknown> = {}) => ({ certificate: { mode: "FROMS3", authMode: "clientauth", source: "external", bucket: "site-tls", ...extra } });

function parsed(overrides: Record<string, unknown>): StackConfig {
  return parseConfig(configMap(overrides), {}, { projectDir: REPO });
}

function problemsOf(overrides: Record<string, unknown>): string[] {
  try {
    parsed(overrides);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error("expected the configuration to be rejected");
}

describe("hardening keys", () => {
  it("have defaults that leave the app's own behaviour and turn the safer options on", () => {
    const c = parsed({});
    expect(c.app).toMatchObject({ duplicatePolicy: "overwrite", bodyMinBytesPerSecond: 1024, bodyRateWindowSeconds: 60 });
    expect(c.fargate).toMatchObject({ drainSeconds: 60, enableExecuteCommand: false });
    expect(c.front).toEqual({ maxConnectionsPerClient: 32 });
    expect(c.certificateOptions).toEqual({ crlRequired: false, allowedClientSubjects: [] });
    expect(c.network).toEqual({ interfaceEndpoints: true });
    expect([c.dataReaders, c.deployRoleArn, c.allowWorldIngress]).toEqual([[], undefined, false]);
  });

  it("read what a stack file sets", () => {
    const c = parsed({
      app: { duplicatePolicy: "reject", bodyMinBytesPerSecond: 0, bodyRateWindowSeconds: 5 },
      fargate: { drainSeconds: 120, enableExecuteCommand: true },
      front: { maxConnectionsPerClient: 0 },
      network: { interfaceEndpoints: false },
      dataReaders: ["arn:aws:iam::123456789012:role/pacs-reader", "arn:aws:iam::123456789012:role/analytics-*"],
      deployRoleArn: "arn:aws:iam::123456789012:role/ci/deploy",
      allowWorldIngress: true,
      ...clientauth({ crl: CRL, allowedClientSubjects: ["CN=pacs1,O=Hospital", "CN=gw\\,1,O=Clinic"] }),
    });
    expect(c.app).toMatchObject({ duplicatePolicy: "reject", bodyMinBytesPerSecond: 0, bodyRateWindowSeconds: 5 });
    expect(c.fargate).toMatchObject({ drainSeconds: 120, enableExecuteCommand: true });
    expect(c.front.maxConnectionsPerClient).toBe(0);
    expect(c.network.interfaceEndpoints).toBe(false);
    expect(c.dataReaders).toHaveLength(2);
    expect(c.deployRoleArn).toBe("arn:aws:iam::123456789012:role/ci/deploy");
    expect(c.allowWorldIngress).toBe(true);
    expect(c.certificateOptions).toEqual({
      crl: { pem: CRL, origin: "(crl in config)" },
      crlRequired: true,
      allowedClientSubjects: ["CN=pacs1,O=Hospital", "CN=gw\\,1,O=Clinic"],
    });
  });

  it("require the CRL from an external bucket when asked, and pass its bucket's key", () => {
    const c = parsed(external({ crlRequired: true, kmsKeyArn: "arn:aws:kms:eu-central-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab" }));
    expect(c.certificateOptions).toEqual({ crlRequired: true, allowedClientSubjects: [] });
    expect(c.certificate).toMatchObject({ kmsKeyArn: "arn:aws:kms:eu-central-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab" });
  });

  it.each([
    ["duplicatePolicy", { app: { duplicatePolicy: "keep" } }, "stowrs-to-s3:app: duplicatePolicy must be one of overwrite, reject"],
    ["body rate window", { app: { bodyRateWindowSeconds: 0 } }, "stowrs-to-s3:app: bodyRateWindowSeconds must be between 1 and 3600"],
    ["body rate negative", { app: { bodyMinBytesPerSecond: -1 } }, "stowrs-to-s3:app: bodyMinBytesPerSecond must be between 0 and"],
    ["drain over Fargate's stop timeout", { fargate: { drainSeconds: 180 } }, "stowrs-to-s3:fargate: drainSeconds must be between 15 and 120, got 180"],
    ["exec flag", { fargate: { enableExecuteCommand: "yes" } }, "stowrs-to-s3:fargate: enableExecuteCommand must be true or false"],
    ["front limit", { front: { maxConnectionsPerClient: 70000 } }, "stowrs-to-s3:front: maxConnectionsPerClient must be between 0 and 65535"],
    ["front unknown field", { front: { maxConnections: 3 } }, "stowrs-to-s3:front: unknown field \"maxConnections\""],
    ["network flag", { network: { interfaceEndpoints: "sometimes" } }, "stowrs-to-s3:network: interfaceEndpoints must be true or false"],
    ["reader not an ARN", { dataReaders: ["radiology"] }, "stowrs-to-s3:dataReaders: radiology is not an IAM role or user ARN"],
    ["reader a session", { dataReaders: ["arn:aws:sts::123456789012:assumed-role/viewer/alice"] }, "stowrs-to-s3:dataReaders: arn:aws:sts::123456789012:assumed-role/viewer/alice is a session"],
    ["deploy role wildcard", { deployRoleArn: "arn:aws:iam::123456789012:role/deploy-*" }, "stowrs-to-s3:deployRoleArn: arn:aws:iam::123456789012:role/deploy-* must name one role"],
    ["allowWorldIngress flag", { allowWorldIngress: "maybe" }, "stowrs-to-s3:allowWorldIngress: must be true or false"],
    ["crl without client certificates", { certificate: { mode: "FROMS3", authMode: "anonymous", crl: CRL } }, "stowrs-to-s3:certificate: crl is only used with authMode clientauth"],
    ["crl not a CRL", clientauth({ crl: CA }), "stowrs-to-s3:certificate: crl stacks/examples/placeholder-client-ca.crt holds no PEM CRL"],
    ["crl with an external bucket", external({ crl: CRL }), "stowrs-to-s3:certificate: crl is only used with source stack"],
    ["crlRequired without crl", clientauth({ crlRequired: true }), "stowrs-to-s3:certificate: crlRequired with source stack needs crl"],
    ["subject with a control character", clientauth({ allowedClientSubjects: ["CN=a\u0001"] }), "stowrs-to-s3:certificate: allowedClientSubjects: \"CN=a\\u0001\" contains a control character"],
    ["subject not a DN", clientauth({ allowedClientSubjects: ["pacs1"] }), "stowrs-to-s3:certificate: allowedClientSubjects: \"pacs1\" is not an RFC 2253 DN"],
    ["subjects not a list", clientauth({ allowedClientSubjects: "CN=pacs1" }), "stowrs-to-s3:certificate: allowedClientSubjects must be a list"],
    ["kmsKeyArn with the stack's bucket", clientauth({ kmsKeyArn: "arn:aws:kms:eu-central-1:123456789012:key/abc" }), "stowrs-to-s3:certificate: kmsKeyArn is only used with source external"],
    ["kmsKeyArn malformed", external({ kmsKeyArn: "alias/site-tls" }), "stowrs-to-s3:certificate: kmsKeyArn \"alias/site-tls\" is not a KMS key ARN"],
  ])("refuse %s, naming the key", (_label, overrides, expected) => {
    const problems = problemsOf(overrides);
    expect(problems.some((p) => p.startsWith(expected)), `${expected}\nnot in\n${problems.join("\n")}`).toBe(true);
  });
});
