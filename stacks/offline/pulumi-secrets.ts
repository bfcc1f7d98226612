// Pulumi's passphrase secrets provider, as its CLI writes stack files: `encryptionsalt:
// v1:<base64 salt>:<verifier>` at the top, each secret `v1:<base64 nonce>:<base64 ciphertext
// with its GCM tag>`, the key PBKDF2-HMAC-SHA256(passphrase, salt, 1,000,000 rounds, 32 bytes),
// AES-256-GCM with a 12-byte nonce, and a verifier that decrypts to "pulumi". Only the
// rehearsal decrypts; every other offline tool leaves secrets encrypted.
import { createCipheriv, createDecipheriv, pbkdf2Sync, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";

export const PBKDF2_ROUNDS = 1_000_000;
const KEY_BYTES = 32;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const VERIFIER_TEXT = "pulumi";

export class SecretsError extends Error {}

export function deriveKey(passphrase: string, salt: Buffer): Buffer {
  return pbkdf2Sync(Buffer.from(passphrase, "utf8"), salt, PBKDF2_ROUNDS, KEY_BYTES, "sha256");
}

export function encryptValue(key: Buffer, plaintext: string, nonce: Buffer = randomBytes(NONCE_BYTES)): string {
  const cipher = createCipheriv("aes-256-gcm", key, nonce);
  const sealed = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final(), cipher.getAuthTag()]);
  return `v1:${nonce.toString("base64")}:${sealed.toString("base64")}`;
}

/** Throws SecretsError when the text is not a v1 ciphertext or does not decrypt with this key. */
export function decryptValue(key: Buffer, ciphertext: string): string {
  const m = /^v1:([A-Za-z0-9+/=]+):([A-Za-z0-9+/=]+)$/.exec(ciphertext.trim());
  if (!m) throw new SecretsError("not a ciphertext of the passphrase provider (v1:<nonce>:<ciphertext>)");
  const nonce = Buffer.from(m[1], "base64");
  const sealed = Buffer.from(m[2], "base64");
  if (nonce.length !== NONCE_BYTES || sealed.length < TAG_BYTES) throw new SecretsError("malformed ciphertext (nonce or tag of the wrong size)");
  const decipher = createDecipheriv("aes-256-gcm", key, nonce);
  decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
  try {
    return Buffer.concat([decipher.update(sealed.subarray(0, sealed.length - TAG_BYTES)), decipher.final()]).toString("utf8");
  } catch {
    throw new SecretsError("does not decrypt with this key (GCM tag mismatch)");
  }
}

/** A new `encryptionsalt` for a passphrase, and the key it gives (what `pulumi stack init` does). */
export function newEncryptionSalt(passphrase: string, salt: Buffer = randomBytes(8)): { encryptionSalt: string; key: Buffer } {
  const key = deriveKey(passphrase, salt);
  return { encryptionSalt: `v1:${salt.toString("base64")}:${encryptValue(key, VERIFIER_TEXT)}`, key };
}

/** The key for a stack file's `encryptionsalt`; throws SecretsError when the passphrase is not the stack's. */
export function unlock(encryptionSalt: string, passphrase: string): Buffer {
  const m = /^v1:([A-Za-z0-9+/=]+):(v1:.+)$/.exec(encryptionSalt.trim());
  if (!m) throw new SecretsError("encryptionsalt is not v1:<salt>:<verifier>");
  const key = deriveKey(passphrase, Buffer.from(m[1], "base64"));
  let verifier: string;
  try {
    verifier = decryptValue(key, m[2]);
  } catch {
    throw new SecretsError("incorrect passphrase");
  }
  if (verifier !== VERIFIER_TEXT) throw new SecretsError("incorrect passphrase");
  return key;
}

export interface Passphrase {
  passphrase: string;
  /** The variable it came from, for messages: `PULUMI_CONFIG_PASSPHRASE` or `PULUMI_CONFIG_PASSPHRASE_FILE (<path>)`. */
  source: string;
}

/**
 * The passphrase as the Pulumi CLI finds it: PULUMI_CONFIG_PASSPHRASE when set (even empty),
 * else the trimmed content of the file PULUMI_CONFIG_PASSPHRASE_FILE names; undefined when neither.
 */
export function passphraseFromEnv(env: Record<string, string | undefined>, cwd = process.cwd()): Passphrase | undefined {
  if (env.PULUMI_CONFIG_PASSPHRASE !== undefined) return { passphrase: env.PULUMI_CONFIG_PASSPHRASE, source: "PULUMI_CONFIG_PASSPHRASE" };
  const file = env.PULUMI_CONFIG_PASSPHRASE_FILE;
  if (file === undefined || file === "") return undefined;
  const source = `PULUMI_CONFIG_PASSPHRASE_FILE (${file})`;
  try {
    return { passphrase: fs.readFileSync(path.resolve(cwd, file), "utf8").trim(), source };
  } catch (err) {
    throw new SecretsError(`${source} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}
