// The rehearsal runs with the operator's real values: it decrypts the stack file's secrets when
// they are the passphrase provider's and the passphrase is given (PULUMI_CONFIG_PASSPHRASE or
// PULUMI_CONFIG_PASSPHRASE_FILE, as for the Pulumi CLI). Secrets it cannot decrypt (Pulumi
// Cloud's or a KMS provider's, or no passphrase) get throwaway stand-ins, named in one line.
import { execFileSync } from "node:child_process";
import { randomBytes, X509Certificate } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { NAMESPACE } from "../config";
import { decryptValue, passphraseFromEnv, SecretsError, unlock } from "../offline/pulumi-secrets";
import { stackConfigMap, type StackFile, type StackSecret } from "../offline/stack-file";

export class SecretsProblem extends Error {}

export interface Revealed {
  /** The flat config map with every secret decrypted or stood in for. */
  config: Record<string, string>;
  /** What was done, one line each (none when the file holds no secret). */
  lines: string[];
}

const SERVER_KEY = `${NAMESPACE}:certificate.serverKey`;

/** Throws SecretsProblem for a passphrase that does not unlock the file, or a secret that does not decrypt with it. */
export function revealSecrets(file: StackFile, env: Record<string, string | undefined>, tmp: string): Revealed {
  if (file.secrets.length === 0) return { config: file.config, lines: [] };
  const name = path.basename(file.file);
  let given;
  try {
    given = passphraseFromEnv(env);
  } catch (err) {
    throw new SecretsProblem(`secrets: ${(err as Error).message}`);
  }

  let reason: string;
  if (!file.encryptionSalt) {
    reason = file.secretsProvider
      ? `${name} uses the secrets provider ${file.secretsProvider}, which the rehearsal cannot use`
      : `${name} has no encryptionsalt: its secrets are Pulumi Cloud's, which only the Pulumi service decrypts`;
  } else if (!given) {
    reason = "neither PULUMI_CONFIG_PASSPHRASE nor PULUMI_CONFIG_PASSPHRASE_FILE is set";
  } else {
    let key: Buffer | undefined;
    try {
      key = unlock(file.encryptionSalt, given.passphrase);
    } catch (err) {
      if (!(err instanceof SecretsError)) throw err;
      // An empty variable is what a CI job gets when the repository has no such secret.
      if (given.passphrase !== "") {
        throw new SecretsProblem(`secrets: ${given.source} is not the passphrase of ${name} (its encryptionsalt does not unlock with it)`);
      }
    }
    if (key) {
      const k = key;
      const config = stackConfigMap(file, (secret) => {
        try {
          return decryptValue(k, secret.ciphertext);
        } catch (err) {
          throw new SecretsProblem(`secrets: ${secret.path} in ${name} ${(err as Error).message}`);
        }
      });
      return { config, lines: [`secrets: decrypted ${file.secretPaths.join(", ")} with ${given.source} (passphrase provider)`] };
    }
    reason = `${given.source} is empty and does not unlock ${name}`;
  }
  return standIns(file, reason, tmp);
}

function standIns(file: StackFile, reason: string, tmp: string): Revealed {
  const values: Record<string, string> = {};
  const named: string[] = [];
  let replacedCertificate: string | undefined;
  for (const secret of file.secrets) {
    if (secret.path === SERVER_KEY) {
      const pair = throwawayServerPair(file, tmp);
      values[secret.path] = pair.key;
      replacedCertificate = pair.certificate;
      named.push(`${secret.path} (a throwaway key, with a throwaway certificate for ${pair.names} in place of serverCertificate)`);
    } else {
      values[secret.path] = `stand-in-${randomBytes(8).toString("hex")}`;
      named.push(`${secret.path} (random text)`);
    }
  }
  const reveal = (secret: StackSecret) => values[secret.path];
  const withCertificate = replacedCertificate === undefined ? file : withServerCertificate(file, replacedCertificate);
  return {
    config: stackConfigMap(withCertificate, reveal),
    lines: [`secrets: throwaway stand-ins for ${named.join(", ")}: ${reason}`],
  };
}

function withServerCertificate(file: StackFile, pem: string): Pick<StackFile, "values"> {
  const key = `${NAMESPACE}:certificate`;
  const certificate = { ...(file.values[key] as Record<string, unknown>), serverCertificate: pem };
  return { values: { ...file.values, [key]: certificate } };
}

/** A key and a self-signed certificate for the names the configured serverCertificate covers. */
function throwawayServerPair(file: StackFile, tmp: string): { key: string; certificate: string; names: string } {
  const configured = (file.values[`${NAMESPACE}:certificate`] as Record<string, unknown> | undefined)?.serverCertificate;
  let altNames = "DNS:localhost";
  let commonName = "rehearsal stand-in";
  if (typeof configured === "string") {
    try {
      const pem = configured.includes("-----BEGIN") ? configured : fs.readFileSync(path.resolve(file.projectDir, configured), "utf8");
      const cert = new X509Certificate(pem);
      if (cert.subjectAltName) altNames = cert.subjectAltName.split(", ").map((n) => n.replace(/^IP Address:/, "IP:")).join(",");
      commonName = /(?:^|\n)CN=([^\n]+)/.exec(cert.subject)?.[1] ?? commonName;
    } catch {
      /* the configuration check reports an unreadable certificate */
    }
  }
  const dir = fs.mkdtempSync(path.join(tmp, "stand-in-"));
  execFileSync(
    "openssl",
    ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", "server.key", "-out", "server.crt", "-days", "2",
      "-subj", `/O=stowrs-to-s3 rehearsal stand-in/CN=${commonName.replace(/[/\\]/g, "")}`, "-addext", `subjectAltName=${altNames}`,
      "-addext", "extendedKeyUsage=serverAuth"],
    { cwd: dir, stdio: ["ignore", "ignore", "pipe"] },
  );
  return { key: fs.readFileSync(path.join(dir, "server.key"), "utf8"), certificate: fs.readFileSync(path.join(dir, "server.crt"), "utf8"), names: altNames.replace(/,/g, ", ") };
}
