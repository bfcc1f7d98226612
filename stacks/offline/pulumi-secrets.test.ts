import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { decryptValue, deriveKey, encryptValue, newEncryptionSalt, passphraseFromEnv, SecretsError, unlock } from "./pulumi-secrets";

// A vector made independently of this code, with Debian's python3-cryptography:
//   PBKDF2HMAC(SHA256, length=32, salt=bytes(range(1, 9)), iterations=1000000).derive(PASSPHRASE)
//   AESGCM(key).encrypt(bytes(range(12)), b"pulumi", None)          -> the verifier
//   AESGCM(key).encrypt(bytes(range(100, 112)), SECRET_TEXT, None)  -> the secret
// and the key checked again with `openssl kdf -keylen 32 -kdfopt digest:SHA256 -kdfopt pass:...
// -kdfopt hexsalt:0102030405060708 -kdfopt iter:1000000 PBKDF2` (same 32 bytes).
const PASSPHRASE = "correct horse battery staple";
const KEY_HEX = "c229acf68c5760d2d254f9989aebf9b33a19b017177519350ac0e868c43ce671";
const ENCRYPTION_SALT = "v1:AQIDBAUGBwg=:v1:AAECAwQFBgcICQoL:IYoikRHf10peey65kizoQjW7FClwEA==";
const SECRET = "v1:ZGVmZ2hpamtsbW5v:ba9Yf+Laf9Z2bsI3bMCSM375jfyjoxj5Oo/1er0yjesWsgj/AaLEG2z336OeEZbEjp5eOGCB";
const SECRET_TEXT = "a value python3-cryptography encrypted";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "pulumi-secrets-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe("the passphrase provider's format", () => {
  it("derives the key and decrypts the verifier and a secret of an independently made stack file", () => {
    expect(deriveKey(PASSPHRASE, Buffer.from([1, 2, 3, 4, 5, 6, 7, 8])).toString("hex")).toBe(KEY_HEX);
    const key = unlock(ENCRYPTION_SALT, PASSPHRASE);
    expect(key.toString("hex")).toBe(KEY_HEX);
    expect(decryptValue(key, SECRET)).toBe(SECRET_TEXT);
  });

  it("encrypts what the independent implementation wrote, byte for byte, given its nonce", () => {
    const key = Buffer.from(KEY_HEX, "hex");
    expect(encryptValue(key, SECRET_TEXT, Buffer.from(Array.from({ length: 12 }, (_, i) => 100 + i)))).toBe(SECRET);
    expect(encryptValue(key, "pulumi", Buffer.from(Array.from({ length: 12 }, (_, i) => i)))).toBe(ENCRYPTION_SALT.slice("v1:AQIDBAUGBwg=:".length));
  });

  it("round-trips a new salt: the verifier unlocks with the passphrase only", () => {
    const { encryptionSalt, key } = newEncryptionSalt("another passphrase");
    expect(encryptionSalt).toMatch(/^v1:[A-Za-z0-9+/]{11}=:v1:[A-Za-z0-9+/=]{16}:[A-Za-z0-9+/=]+$/);
    expect(unlock(encryptionSalt, "another passphrase").equals(key)).toBe(true);
    expect(decryptValue(key, encryptValue(key, "x\ny"))).toBe("x\ny");
    expect(() => unlock(encryptionSalt, "Another passphrase")).toThrow(new SecretsError("incorrect passphrase"));
  });

  it("refuses a ciphertext that was changed or is not one", () => {
    const key = Buffer.from(KEY_HEX, "hex");
    const flipped = SECRET.slice(0, -6) + (SECRET.at(-6) === "A" ? "B" : "A") + SECRET.slice(-5);
    expect(() => decryptValue(key, flipped)).toThrow(/does not decrypt with this key/);
    expect(() => decryptValue(key, "AAEC")).toThrow(/not a ciphertext/);
    expect(() => unlock("v2:abc", PASSPHRASE)).toThrow(/encryptionsalt is not/);
  });
});

describe("passphraseFromEnv", () => {
  it("takes PULUMI_CONFIG_PASSPHRASE first (even empty), then the trimmed file, as the CLI does", () => {
    const file = path.join(tmp, "passphrase");
    fs.writeFileSync(file, `${PASSPHRASE}\n`);
    expect(passphraseFromEnv({ PULUMI_CONFIG_PASSPHRASE: "a", PULUMI_CONFIG_PASSPHRASE_FILE: file })).toEqual({ passphrase: "a", source: "PULUMI_CONFIG_PASSPHRASE" });
    expect(passphraseFromEnv({ PULUMI_CONFIG_PASSPHRASE: "" })?.passphrase).toBe("");
    expect(passphraseFromEnv({ PULUMI_CONFIG_PASSPHRASE_FILE: file })).toEqual({ passphrase: PASSPHRASE, source: `PULUMI_CONFIG_PASSPHRASE_FILE (${file})` });
    expect(passphraseFromEnv({})).toBeUndefined();
    expect(() => passphraseFromEnv({ PULUMI_CONFIG_PASSPHRASE_FILE: path.join(tmp, "missing") })).toThrow(/PULUMI_CONFIG_PASSPHRASE_FILE \(.*missing\) cannot be read \(ENOENT\)/);
  });
});
