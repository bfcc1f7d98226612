// Checks crl.pem before nginx loads it as ssl_crl. Node's crypto cannot read CRLs, so each
// one goes through `openssl crl`, which the image has: it must parse, be signed by a CA of
// the truststore, and be current. What nginx would do with a CRL that is not is said here
// in plain words, because nginx itself only answers 400 to every client of that CA.
import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";

import { CertificateError } from "./pem.js";

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n[\s\S]*?-----END \1-----/g;

/**
 * @typedef {{ issuer: string, lastUpdate: Date, nextUpdate: Date | null, revoked: number }} CrlSummary
 * @typedef {{ crls: CrlSummary[], errors: string[], warnings: string[] }} CrlCheck
 */

/**
 * @param {Buffer} crlPem content of crl.pem
 * @param {string} truststorePath the truststore as written for nginx (CRL signatures are checked against it)
 * @param {{ now?: Date, openssl?: string, name?: string }} [options] name: what messages call the file
 * @returns {Promise<CrlCheck>} errors: loud, but the front still starts (nginx then refuses that CA's clients)
 */
export async function checkCrl(crlPem, truststorePath, { now = new Date(), openssl = "openssl", name = "crl.pem" } = {}) {
  const text = crlPem.toString("latin1");
  const blocks = [...text.matchAll(PEM_BLOCK)].map((m) => ({ type: m[1], text: m[0] }));
  if (blocks.some((b) => b.type.includes("PRIVATE KEY"))) {
    throw new CertificateError(`${name} contains a private key; it must hold CRLs only`);
  }
  // nginx loads certificates found in the ssl_crl file into its trust store: one here would
  // become a CA that client certificates may chain to, behind truststore.crt's back.
  if (blocks.some((b) => b.type !== "X509 CRL")) {
    const types = [...new Set(blocks.filter((b) => b.type !== "X509 CRL").map((b) => b.type))].join(", ");
    throw new CertificateError(`${name} holds ${types} blocks; it must hold CRLs only ("-----BEGIN X509 CRL-----")`);
  }
  const crls = blocks.filter((b) => b.type === "X509 CRL");
  if (crls.length === 0) throw new CertificateError(`${name} holds no PEM CRL (expected "-----BEGIN X509 CRL-----" blocks)`);

  const summaries = [];
  for (const [index, block] of crls.entries()) {
    const which = crls.length > 1 ? `CRL #${index + 1} of ${name}` : name;
    const { stdout, stderr, code } = await run(
      openssl,
      ["crl", "-noout", "-issuer", "-lastupdate", "-nextupdate", "-nameopt", "RFC2253", "-dateopt", "iso_8601", "-text"],
      block.text,
    );
    if (code !== 0) throw new CertificateError(`${which} cannot be read as a CRL: ${firstLine(stderr)}`);
    const field = (name) => new RegExp(`^${name}=(.*)$`, "m").exec(stdout)?.[1]?.trim();
    const issuer = field("issuer") ?? "?";
    // Signed by a CA nginx trusts? openssl says "verify OK" on stderr only then.
    const verified = await run(openssl, ["crl", "-noout", "-CAfile", truststorePath], block.text);
    if (verified.code !== 0 || !/^verify OK/m.test(verified.stderr)) {
      throw new CertificateError(
        `${which} (issuer "${issuer}") is not signed by a CA in truststore.crt (${firstLine(verified.stderr) || "verify failure"}); ` +
          "a CRL nginx cannot check revokes nothing, so the front does not start with it",
      );
    }
    const lastUpdate = isoDate(field("lastUpdate"));
    const next = field("nextUpdate");
    const nextUpdate = next === undefined || next === "NONE" ? null : isoDate(next);
    if (!lastUpdate || (next !== undefined && next !== "NONE" && !nextUpdate)) {
      throw new CertificateError(`${which} (issuer "${issuer}") has dates openssl prints as "${field("lastUpdate")}" / "${next}"`);
    }
    const revoked = (stdout.match(/^\s+Serial Number:/gm) ?? []).length;
    summaries.push({ issuer, lastUpdate, nextUpdate, revoked });
  }

  const errors = [];
  const warnings = [];
  for (const crl of summaries) {
    if (crl.nextUpdate && crl.nextUpdate <= now) {
      errors.push(
        `${name}: the CRL of "${crl.issuer}" expired at ${crl.nextUpdate.toISOString()} (its nextUpdate). ` +
          `nginx now refuses EVERY client certificate issued by "${crl.issuer}" ("CRL has expired"): ` +
          `put that CA's current CRL into ${name} and restart the tasks`,
      );
    }
    if (crl.lastUpdate > now) {
      errors.push(
        `${name}: the CRL of "${crl.issuer}" is dated ${crl.lastUpdate.toISOString()}, in the future (clock or CRL wrong); ` +
          `nginx refuses every client certificate issued by "${crl.issuer}" ("CRL is not yet valid") until then`,
      );
    }
    if (!crl.nextUpdate) warnings.push(`${name}: the CRL of "${crl.issuer}" has no nextUpdate; nothing tells when it is stale`);
  }

  // With a CRL loaded, OpenSSL checks every CA in a chain and fails a chain whose CA has none.
  const withCrl = new Set(summaries.map((c) => c.issuer));
  for (const ca of await subjectsOf(openssl, truststorePath)) {
    if (!withCrl.has(ca)) {
      warnings.push(
        `${name} has no CRL from "${ca}" (truststore.crt): nginx refuses every client certificate that CA issued ` +
          `("unable to get certificate CRL"); add its CRL to ${name} if it signs client certificates`,
      );
    }
  }
  return { crls: summaries, errors, warnings };
}

/** RFC 2253 subjects of the certificates in a PEM file, one openssl call each. */
async function subjectsOf(openssl, pemPath) {
  const text = (await readFile(pemPath)).toString("latin1");
  const certificates = [...text.matchAll(PEM_BLOCK)].filter((m) => m[1] === "CERTIFICATE").map((m) => m[0]);
  const subjects = [];
  for (const pem of certificates) {
    const { stdout, code } = await run(openssl, ["x509", "-noout", "-subject", "-nameopt", "RFC2253"], pem);
    const subject = /^subject=(.*)$/m.exec(stdout)?.[1]?.trim();
    if (code === 0 && subject) subjects.push(subject);
  }
  return subjects;
}

/** openssl prints iso_8601 dates as "2026-12-08 01:48:36Z". */
function isoDate(text) {
  if (!text) return null;
  const date = new Date(text.replace(" ", "T"));
  return Number.isNaN(date.getTime()) ? null : date;
}

/** openssl's first line that says more than "verify OK/failure". */
function firstLine(text) {
  const lines = text.split("\n").map((l) => l.trim()).filter(Boolean);
  return lines.find((l) => !/^verify (OK|failure)$/.test(l)) ?? lines[0] ?? "";
}

/** @returns {Promise<{ stdout: string, stderr: string, code: number }>} */
function run(command, args, input) {
  return new Promise((resolve, reject) => {
    const child = execFile(command, args, { timeout: 30_000, encoding: "utf8" }, (error, stdout, stderr) => {
      if (error && typeof error.code !== "number") {
        reject(new Error(error.code === "ENOENT" ? "openssl is not installed; it is needed to check crl.pem" : String(error.message)));
        return;
      }
      resolve({ stdout, stderr, code: error ? Number(error.code) : 0 });
    });
    child.stdin?.end(input);
  });
}
