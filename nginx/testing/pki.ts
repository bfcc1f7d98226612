// A throwaway PKI made with openssl for each test run: one CA that the front
// trusts, one it does not, the certificates signed by each, and CRLs.
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface KeyPair {
  cert: string;
  key: string;
  /** PEM text of cert and key. */
  certPem: string;
  keyPem: string;
}

export interface Pki {
  dir: string;
  /** The CA the front trusts for client certificates; it also signs the server certificate. */
  ca: KeyPair;
  /** A CA the front does not know. */
  otherCa: KeyPair;
  /** Server certificate for 127.0.0.1 / localhost, signed by `ca`. */
  server: KeyPair;
  /** Client certificate signed by `ca`. */
  client: KeyPair & { dn: string };
  /** Client certificate signed by `otherCa`, with the same subject as `client`. */
  strangerClient: KeyPair;
  /** client cert + key in one PEM file (some clients want that). */
  clientBundle: string;
  /** Another valid client certificate of `ca`, with a subject of its own, full of characters RFC 2253 escapes. */
  secondClient: KeyPair & { dn: string };
  /** A client certificate of `ca` that `crl` revokes. */
  revokedClient: KeyPair & { dn: string };
  /** PEM CRLs: `ca`'s current one (revoking `revokedClient`), the same CA's past its nextUpdate, and one by `otherCa`. */
  crl: { current: string; expired: string; expiredNextUpdate: string; otherCa: string };
}

function openssl(args: string[], cwd: string): void {
  execFileSync("openssl", args, { cwd, stdio: ["ignore", "ignore", "pipe"] });
}

function pair(dir: string, name: string): KeyPair {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  return { cert, key, certPem: readFileSync(cert, "utf8"), keyPem: readFileSync(key, "utf8") };
}

function makeCa(dir: string, name: string, cn: string): KeyPair {
  openssl(
    [
      "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
      "-keyout", `${name}.key`, "-out", `${name}.crt`, "-days", "2", "-subj", `/O=Front Test/CN=${cn}`,
      "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    ],
    dir,
  );
  return pair(dir, name);
}

function issue(dir: string, ca: string, name: string, subject: string, extensions: string): KeyPair {
  openssl(
    [
      "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
      "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", subject,
    ],
    dir,
  );
  writeFileSync(join(dir, `${name}.ext`), extensions);
  openssl(
    [
      "x509", "-req", "-in", `${name}.csr`, "-CA", `${ca}.crt`, "-CAkey", `${ca}.key`, "-CAcreateserial",
      "-out", `${name}.crt`, "-days", "2", "-extfile", `${name}.ext`,
    ],
    dir,
  );
  return pair(dir, name);
}

/** Creates all keys and certificates in `dir` (which must exist). */
export function makePki(dir: string): Pki {
  const ca = makeCa(dir, "ca", "Trusted Test CA");
  const otherCa = makeCa(dir, "other-ca", "Unknown Test CA");
  const server = issue(
    dir, "ca", "server", "/O=Front Test/CN=localhost",
    "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n",
  );
  const clientExt = "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n";
  const client = issue(dir, "ca", "client", "/C=BE/O=Front Test Hospital/CN=modality-1", clientExt);
  const strangerClient = issue(dir, "other-ca", "stranger", "/C=BE/O=Front Test Hospital/CN=modality-1", clientExt);
  const clientBundle = join(dir, "client-bundle.pem");
  writeFileSync(clientBundle, client.certPem + client.keyPem);
  // A subject with every character RFC 2253 escapes, and a few that regular expressions and nginx's quoting care about.
  const secondClient = issue(dir, "ca", "second", '/C=BE/O=Front Test Hospital/CN=modality-2 (room 1.2), "east" $x\\+y\\/z;w', clientExt);
  const revokedClient = issue(dir, "ca", "revoked", "/C=BE/O=Front Test Hospital/CN=stolen-laptop", clientExt);
  const crl = makeCrls(dir, "revoked.crt");
  // nginx reports the subject in RFC 2253 order: most specific first.
  return {
    dir,
    ca,
    otherCa,
    server,
    client: { ...client, dn: "CN=modality-1,O=Front Test Hospital,C=BE" },
    strangerClient,
    clientBundle,
    secondClient: { ...secondClient, dn: 'CN=modality-2 (room 1.2)\\, \\"east\\" $x\\+y/z\\;w,O=Front Test Hospital,C=BE' },
    revokedClient: { ...revokedClient, dn: "CN=stolen-laptop,O=Front Test Hospital,C=BE" },
    crl,
  };
}

/** The past nextUpdate of the expired CRL, as openssl takes it (UTCTime) and as an ISO date. */
const EXPIRED = { lastUpdate: "250101000000Z", nextUpdate: "250102000000Z", iso: "2025-01-02T00:00:00.000Z" };

/** `openssl ca` keeps revocations in a text database; a minimal configuration is all it needs. */
function makeCrls(dir: string, revoke: string): Pki["crl"] {
  const config = (ca: string) => {
    const file = join(dir, `${ca}-ca.cnf`);
    writeFileSync(join(dir, `${ca}-index.txt`), "");
    writeFileSync(file, `[ca]\ndefault_ca = front_test\n[front_test]\ndatabase = ${ca}-index.txt\ndefault_md = sha256\ndefault_crl_days = 2\n`);
    return ["-config", file, "-keyfile", `${ca}.key`, "-cert", `${ca}.crt`];
  };
  const ca = config("ca");
  openssl(["ca", ...ca, "-revoke", revoke], dir);
  openssl(["ca", ...ca, "-gencrl", "-out", "crl.pem"], dir);
  openssl(["ca", ...ca, "-gencrl", "-crl_lastupdate", EXPIRED.lastUpdate, "-crl_nextupdate", EXPIRED.nextUpdate, "-out", "expired-crl.pem"], dir);
  openssl(["ca", ...config("other-ca"), "-gencrl", "-out", "other-ca-crl.pem"], dir);
  const read = (name: string) => readFileSync(join(dir, name), "utf8");
  return { current: read("crl.pem"), expired: read("expired-crl.pem"), expiredNextUpdate: EXPIRED.iso, otherCa: read("other-ca-crl.pem") };
}
