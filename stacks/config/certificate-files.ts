// PEM material in the certificate block: read from config text or a file, and checked
// (a truststore holds CA certificates only; a server key belongs to its certificate).
import * as fs from "node:fs";
import * as path from "node:path";
import { X509Certificate, createPrivateKey } from "node:crypto";
import type { Reader } from "./reader";

/** PEM text with where it came from (the config value itself, or a file it named). */
export interface PemSource {
  pem: string;
  origin: string;
}

/** PEM text, or a path (relative to the project directory) to a file holding it. */
export function readPem(r: Reader, key: string, field: string, raw: unknown): PemSource | undefined {
  const text = r.text(key, field, raw, "");
  if (text.includes("-----BEGIN")) return { pem: text.endsWith("\n") ? text : `${text}\n`, origin: `(${field} in config)` };
  if (text === "") {
    r.report(key, `${field} is empty`);
    return undefined;
  }
  const file = path.resolve(r.opts.projectDir, text);
  try {
    return { pem: fs.readFileSync(file, "utf8"), origin: text };
  } catch (err) {
    r.report(key, `${field}: cannot read ${text} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); give PEM text or a file path relative to ${r.opts.projectDir}`);
    return undefined;
  }
}

export function checkTruststore(r: Reader, key: string, source: PemSource): void {
  if (/PRIVATE KEY-----/.test(source.pem)) {
    r.report(key, `truststore ${source.origin} holds a private key; it must hold CA certificates only`);
    return;
  }
  const blocks = source.pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) {
    r.report(key, `truststore ${source.origin} holds no PEM certificate`);
    return;
  }
  for (const [i, block] of blocks.entries()) {
    try {
      const cert = new X509Certificate(block);
      if (!cert.ca) r.report(key, `truststore ${source.origin}: certificate #${i + 1} ("${cert.subject.replaceAll("\n", ", ")}") is not a CA certificate`);
    } catch (err) {
      r.report(key, `truststore ${source.origin}: certificate #${i + 1} cannot be parsed (${(err as Error).message})`);
    }
  }
}

export function checkServerPair(r: Reader, key: string, certificate: PemSource, keyPem: string): boolean {
  const first = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/.exec(certificate.pem)?.[0];
  let leaf: X509Certificate;
  try {
    if (!first) throw new Error("no PEM certificate");
    leaf = new X509Certificate(first);
  } catch (err) {
    r.report(key, `serverCertificate ${certificate.origin} is not a PEM certificate (${(err as Error).message})`);
    return false;
  }
  try {
    if (!leaf.checkPrivateKey(createPrivateKey(keyPem))) {
      r.report(key, "serverKey does not belong to the first certificate in serverCertificate");
      return false;
    }
  } catch (err) {
    r.report(key, `serverKey is not an unencrypted PEM private key (${(err as Error).message.split("\n")[0]})`);
    return false;
  }
  return true;
}

/** The committed example CA (stacks/examples/) says so in its subject. */
export function isPlaceholderCa(pem: string): boolean {
  return pemCertificates(pem).some((c) => /PLACEHOLDER/i.test(c.subject));
}

function pemCertificates(pem: string): X509Certificate[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  const certs: X509Certificate[] = [];
  for (const b of blocks) {
    try {
      certs.push(new X509Certificate(b));
    } catch {
      /* reported by the validator */
    }
  }
  return certs;
}
