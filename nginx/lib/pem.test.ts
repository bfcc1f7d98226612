import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makePki, type Pki } from "../testing/pki.js";
import { CertificateError, checkServerCertificate, checkTruststore } from "./pem.js";

let pki: Pki;
let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "front-pem-"));
  pki = makePki(dir);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const buf = (s: string) => Buffer.from(s);

describe("checkServerCertificate", () => {
  it("accepts a matching pair, with or without the CA chain after the leaf", () => {
    expect(checkServerCertificate(buf(pki.server.certPem), buf(pki.server.keyPem))).toMatchObject({
      subject: "O=Front Test, CN=localhost",
      warnings: [],
    });
    const chained = checkServerCertificate(buf(pki.server.certPem + pki.ca.certPem), buf(pki.server.keyPem));
    expect(chained.warnings).toEqual([]);
  });

  it("warns about a chain in the wrong order and an expired certificate", () => {
    const wrongChain = checkServerCertificate(buf(pki.server.certPem + pki.otherCa.certPem), buf(pki.server.keyPem));
    expect(wrongChain.warnings).toEqual([
      "certificate.crt: certificate #2 did not issue #1; clients may not build the chain",
    ]);
    const later = checkServerCertificate(buf(pki.server.certPem), buf(pki.server.keyPem), new Date(Date.now() + 10 * 86_400_000));
    expect(later.warnings[0]).toMatch(/^certificate\.crt expired on /);
  });

  it("rejects a key that is not the leaf's", () => {
    expect(() => checkServerCertificate(buf(pki.ca.certPem + pki.server.certPem), buf(pki.server.keyPem))).toThrow(
      /does not belong to the first certificate/,
    );
  });

  it("rejects a key file that holds no key", () => {
    expect(() => checkServerCertificate(buf(pki.server.certPem), buf(pki.server.certPem))).toThrow(CertificateError);
    expect(() => checkServerCertificate(buf(pki.server.certPem), buf("junk"))).toThrow(/certificate\.key is not a PEM private key/);
  });
});

describe("checkTruststore", () => {
  it("lists the trusted CAs", () => {
    expect(checkTruststore(buf(pki.ca.certPem + pki.otherCa.certPem))).toEqual({
      subjects: ["O=Front Test, CN=Trusted Test CA", "O=Front Test, CN=Unknown Test CA"],
      warnings: [],
    });
  });

  it("warns about a certificate that is not a CA", () => {
    expect(checkTruststore(buf(pki.client.certPem)).warnings[0]).toContain("is not a CA certificate");
  });

  it("rejects an empty file or DER bytes", () => {
    expect(() => checkTruststore(buf(""))).toThrow(/truststore\.crt holds no PEM certificate/);
    expect(() => checkTruststore(Buffer.from([0x30, 0x82, 0x01, 0x00]))).toThrow(/holds no PEM certificate/);
  });
});
