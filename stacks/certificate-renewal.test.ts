import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as aws from "@pulumi/aws";
import { afterAll, describe, expect, it } from "vitest";
import { makePki } from "../nginx/testing/pki";
import { renewalNotice } from "./certificate-renewal";
import { createCertificates, GENERATED_RENEWAL_HOURS } from "./certificates";
import type { CertificateConfig } from "./config";
import { MOCK_NOT_AFTER } from "./offline/mock-tls";
import { recordStack } from "./offline/record";
import { configMap, REGION } from "./testing/harness";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "stacks-renewal-"));
const pki = makePki(dir);
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const DAY = 24 * 3600 * 1000;

describe("renewalNotice", () => {
  const notAfter = new Date("2030-06-30T00:00:00Z");
  const renewAt = new Date(notAfter.getTime() - GENERATED_RENEWAL_HOURS * 3600 * 1000);

  it("says nothing about a generated certificate until 30 days before the up that replaces it", () => {
    expect(renewalNotice("generated", notAfter, new Date(renewAt.getTime() - 31 * DAY), GENERATED_RENEWAL_HOURS)).toBeUndefined();
    const soon = renewalNotice("generated", notAfter, new Date(renewAt.getTime() - 29 * DAY), GENERATED_RENEWAL_HOURS);
    expect(soon).toBe(
      "certificate: the generated server certificate (valid until 2030-06-30T00:00:00.000Z) is replaced by the first pulumi up from 2030-05-31 on; " +
        "clients that pin it must then take the new one (pulumi stack output serverCertificate)",
    );
    expect(renewalNotice("generated", notAfter, new Date(renewAt.getTime() + DAY), GENERATED_RENEWAL_HOURS)).toMatch(
      /is due for renewal: the next pulumi up replaces it; clients that pin it must then take the new one/,
    );
  });

  it("tells the operator to renew a certificate from config 30 days before it expires, and once it has", () => {
    expect(renewalNotice("configured", notAfter, new Date(notAfter.getTime() - 31 * DAY), GENERATED_RENEWAL_HOURS)).toBeUndefined();
    expect(renewalNotice("configured", notAfter, new Date(notAfter.getTime() - 20.5 * DAY), GENERATED_RENEWAL_HOURS)).toBe(
      "certificate: serverCertificate (valid until 2030-06-30T00:00:00.000Z) expires in 20 days: renew it and set certificate.serverCertificate " +
        "and certificate.serverKey again; clients that pin it must take the new one",
    );
    expect(renewalNotice("configured", notAfter, new Date(notAfter.getTime() + DAY), GENERATED_RENEWAL_HOURS)).toMatch(/\) has expired: renew it/);
  });
});

describe("the program warns (pulumi preview, npm run plan)", () => {
  async function warningsAt(certificate: CertificateConfig, now: Date): Promise<string[]> {
    const warnings: string[] = [];
    await recordStack(
      "renewal",
      configMap(),
      () => {
        const provider = new aws.Provider("renewal-aws", { region: REGION });
        createCertificates(
          { appName: "rn", certificate, accessLogsBucket: "logs", serverName: "rn.example.test", now: () => now },
          { provider },
        );
        return {};
      },
      { warnings },
    );
    return warnings;
  }
  const stack = { mode: "FROMS3", authMode: "anonymous", source: "stack", bucket: "rn-certs" } as const;

  it("about the generated certificate, once its state says it is near renewal", async () => {
    const end = new Date(MOCK_NOT_AFTER).getTime();
    expect(await warningsAt(stack, new Date(end - 100 * DAY))).toEqual([]);
    expect(await warningsAt(stack, new Date(end - 40 * DAY))).toEqual([expect.stringMatching(/^certificate: the generated server certificate .* pulumi up from 2049-12-01 on; clients that pin it/)]);
  });

  it("about a certificate from config that is about to expire", async () => {
    const server = { certificate: { pem: pki.server.certPem, origin: "(serverCertificate in config)" }, key: pki.server.keyPem };
    // The test PKI's certificates are valid for two days.
    expect(await warningsAt({ ...stack, server }, new Date())).toEqual([expect.stringMatching(/^certificate: serverCertificate \(valid until .*\) expires in [12] days?: renew it/)]);
    expect(await warningsAt({ ...stack, server }, new Date(Date.now() - 60 * DAY))).toEqual([]);
  });
});
