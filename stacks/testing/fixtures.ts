// Stack files with known contents for the tests (stacks/testing/fixtures/), and variants of
// them written to temp directories. Tests never pin the operator's Pulumi.<stack>.yaml files:
// those belong to whoever deploys, and are checked only for what holds for any valid one.
import { createHash, X509Certificate } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { parse, stringify } from "yaml";
import { encryptValue, newEncryptionSalt } from "../offline/pulumi-secrets";

export const FIXTURES_DIR = path.resolve(__dirname, "fixtures");
/** FROMS3, generated certificate, anonymous, one task: appName fixture-anon. */
export const ANONYMOUS = path.join(FIXTURES_DIR, "Pulumi.fixture-anonymous.yaml");
/** FROMS3, generated certificate, clientauth with the placeholder CA, two to six tasks: appName fixture-mtls. */
export const CLIENTAUTH = path.join(FIXTURES_DIR, "Pulumi.fixture-clientauth.yaml");

export type StackDoc = { config: Record<string, any>; [top: string]: unknown };

/**
 * `from` (a stack file) with `edit` applied, written as Pulumi.<stack>.yaml into a new directory
 * of its own under `tmp` (so no other stack file sits beside it unless a test puts one there).
 */
export function variant(tmp: string, from: string, stack: string, edit: (doc: StackDoc) => void = () => {}, dir?: string): string {
  const doc = parse(fs.readFileSync(from, "utf8")) as StackDoc;
  edit(doc);
  const target = dir ?? fs.mkdtempSync(path.join(tmp, `${stack}-`));
  const file = path.join(target, `Pulumi.${stack}.yaml`);
  fs.writeFileSync(file, stringify(doc));
  return file;
}

/** SHA-256 over a PEM certificate's DER bytes, as the rehearsal prints it. */
export function certificateSha256(pem: string): string {
  return createHash("sha256").update(new X509Certificate(pem).raw).digest("hex");
}

export interface TlsFiles {
  ca: { certPem: string };
  server: { certPem: string; keyPem: string };
}

/**
 * Edits a stack doc to an operator's real setup: their own CA as truststore, serverCertificate in
 * plain text and serverKey as a secret, of the passphrase provider (encryptionsalt at the top,
 * the key encrypted with `passphrase`) or of Pulumi Cloud (no key material in the file).
 */
export function withOwnCertificates(doc: StackDoc, tls: TlsFiles, secrets: { passphrase: string } | "pulumi-cloud"): void {
  let serverKey: { secure: string };
  if (secrets === "pulumi-cloud") {
    // What the service's ciphertexts look like; only the service could decrypt them.
    serverKey = { secure: Buffer.from(`not decryptable offline: ${"x".repeat(64)}`).toString("base64") };
    delete doc.encryptionsalt;
  } else {
    const { encryptionSalt, key } = newEncryptionSalt(secrets.passphrase);
    doc.encryptionsalt = encryptionSalt;
    serverKey = { secure: encryptValue(key, tls.server.keyPem) };
  }
  doc.config["stowrs-to-s3:certificate"] = {
    ...doc.config["stowrs-to-s3:certificate"],
    truststore: tls.ca.certPem,
    serverCertificate: tls.server.certPem,
    serverKey,
  };
  // encryptionsalt goes first in a stack file, as the CLI writes it.
  const ordered = { ...(doc.encryptionsalt ? { encryptionsalt: doc.encryptionsalt } : {}), ...doc };
  for (const k of Object.keys(doc)) delete doc[k];
  Object.assign(doc, ordered);
}
