// certificate.kmsKeyArn: an external certificate bucket encrypted with its own KMS key.
// (The other certificate rules are tested in stacks/config.test.ts.)
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, parseConfig } from ".";
import { configMap } from "../testing/harness";

const REPO = path.resolve(__dirname, "..", "..");
const SITE_KEY = "arn:aws:kms:eu-central-1:210987654321:key/1234abcd-12ab-34cd-56ef-1234567890ab";

function parse(certificate: Record<string, unknown>) {
  return parseConfig(configMap({ certificate }), {}, { projectDir: REPO });
}

function problems(certificate: Record<string, unknown>): string[] {
  try {
    parse(certificate);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error("expected the configuration to be rejected");
}

describe("certificate.kmsKeyArn", () => {
  it("is taken for an external bucket", () => {
    expect(parse({ mode: "FROMS3", source: "external", bucket: "site-tls", kmsKeyArn: SITE_KEY }).certificate).toEqual({
      mode: "FROMS3",
      authMode: "anonymous",
      source: "external",
      bucket: "site-tls",
      kmsKeyArn: SITE_KEY,
    });
  });

  it("is absent by default", () => {
    expect(parse({ mode: "FROMS3", source: "external", bucket: "site-tls" }).certificate).not.toHaveProperty("kmsKeyArn");
  });

  it("must be a key ARN, not an alias or a key id", () => {
    for (const value of ["alias/site-tls", "arn:aws:kms:eu-central-1:210987654321:alias/site-tls", "1234abcd-12ab-34cd-56ef-1234567890ab"]) {
      expect(problems({ mode: "FROMS3", source: "external", bucket: "site-tls", kmsKeyArn: value })).toEqual([
        `stowrs-to-s3:certificate: kmsKeyArn "${value}" is not a KMS key ARN (arn:aws:kms:<region>:<account>:key/<key id>; an alias ARN grants nothing in an IAM policy)`,
      ]);
    }
  });

  it("belongs to an external bucket only", () => {
    expect(problems({ mode: "FROMS3", kmsKeyArn: SITE_KEY })).toEqual([
      "stowrs-to-s3:certificate: kmsKeyArn is only used with source external: the bucket the stack makes uses SSE-S3",
    ]);
    expect(problems({ mode: "ACM", arn: "arn:aws:acm:eu-central-1:123456789012:certificate/0b1c-2d3e", kmsKeyArn: SITE_KEY })).toEqual([
      "stowrs-to-s3:certificate: kmsKeyArn is only used with mode FROMS3",
    ]);
  });
});
