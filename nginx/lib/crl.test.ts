// crl.pem's checks with the real openssl and a throwaway PKI (nginx/testing/pki.ts).
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makePki, type Pki } from "../testing/pki.js";
import { checkCrl } from "./crl.js";
import { CertificateError } from "./pem.js";

let pki: Pki;
let dir: string;
let truststore: string;
let bothCas: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "crl-test-"));
  pki = makePki(dir);
  truststore = join(dir, "truststore.crt");
  writeFileSync(truststore, pki.ca.certPem);
  bothCas = join(dir, "both.crt");
  writeFileSync(bothCas, pki.ca.certPem + pki.otherCa.certPem);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

const ISSUER = "CN=Trusted Test CA,O=Front Test";

async function refusal(pem: string, store = truststore): Promise<string> {
  const error = await checkCrl(Buffer.from(pem), store, { name: "s3://certs/crl.pem" }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(CertificateError);
  return (error as Error).message;
}

describe("checkCrl", () => {
  it("reads a current CRL: issuer as nginx prints it, revocations, dates; nothing to say", async () => {
    const check = await checkCrl(Buffer.from(pki.crl.current), truststore);
    expect(check.errors).toEqual([]);
    expect(check.warnings).toEqual([]);
    expect(check.crls).toHaveLength(1);
    expect(check.crls[0]).toMatchObject({ issuer: ISSUER, revoked: 1 });
    expect(check.crls[0].nextUpdate!.getTime()).toBeGreaterThan(Date.now());
  });

  it("says loudly, naming the issuer and the date, that an expired CRL makes nginx refuse all of that CA's clients", async () => {
    const check = await checkCrl(Buffer.from(pki.crl.expired), truststore);
    expect(check.errors).toHaveLength(1);
    expect(check.errors[0]).toContain(`the CRL of "${ISSUER}" expired at ${pki.crl.expiredNextUpdate}`);
    expect(check.errors[0]).toContain('("CRL has expired")');
    expect(check.errors[0]).toMatch(/: put that CA's current CRL into crl\.pem and restart the tasks$/);
    // Judged against the clock it is given: the same CRL was current on its first day.
    const then = await checkCrl(Buffer.from(pki.crl.expired), truststore, { now: new Date("2025-01-01T12:00:00Z") });
    expect(then.errors).toEqual([]);
  });

  it("reads several CRLs in one file, and warns about a trusted CA that has none", async () => {
    const both = await checkCrl(Buffer.from(`${pki.crl.current}\n${pki.crl.otherCa}`), bothCas);
    expect(both.crls.map((c) => c.issuer)).toEqual([ISSUER, "CN=Unknown Test CA,O=Front Test"]);
    expect(both.warnings).toEqual([]);
    const one = await checkCrl(Buffer.from(pki.crl.current), bothCas);
    expect(one.warnings).toEqual([expect.stringContaining('has no CRL from "CN=Unknown Test CA,O=Front Test" (truststore.crt): nginx refuses every client certificate')]);
  });

  it("refuses a CRL no trusted CA signed, naming the file and the issuer", async () => {
    expect(await refusal(pki.crl.otherCa)).toMatch(
      /^s3:\/\/certs\/crl\.pem \(issuer "CN=Unknown Test CA,O=Front Test"\) is not signed by a CA in truststore\.crt/,
    );
    expect(await refusal(`${pki.crl.current}${pki.crl.otherCa}`)).toMatch(/^CRL #2 of s3:\/\/certs\/crl\.pem \(issuer "CN=Unknown Test CA/);
  });

  it("refuses what is not CRLs only: nothing PEM, a broken CRL, a certificate (nginx would trust it), a key", async () => {
    expect(await refusal("not a crl\n")).toBe('s3://certs/crl.pem holds no PEM CRL (expected "-----BEGIN X509 CRL-----" blocks)');
    expect(await refusal("-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n")).toMatch(/^s3:\/\/certs\/crl\.pem cannot be read as a CRL: /);
    expect(await refusal(pki.crl.current + pki.otherCa.certPem)).toBe(
      's3://certs/crl.pem holds CERTIFICATE blocks; it must hold CRLs only ("-----BEGIN X509 CRL-----")',
    );
    expect(await refusal(pki.crl.current + pki.client.keyPem)).toBe("s3://certs/crl.pem contains a private key; it must hold CRLs only");
  });
});
