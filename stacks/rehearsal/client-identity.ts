// The rehearsal's client certificate in clientauth: the operator's (--client-cert/--client-key,
// or REHEARSE_CLIENT_CERT/REHEARSE_CLIENT_KEY), one issued by the committed placeholder CA when
// the stack trusts that one, or else one issued by a throwaway CA that the rehearsal adds to its
// own copy of the truststore only (CI has no client certificate of the sites' CA).
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";

const REPO = path.resolve(__dirname, "../..");
export const PLACEHOLDER_CA = { cert: path.join(REPO, "stacks/examples/placeholder-client-ca.crt"), key: path.join(REPO, "stacks/examples/placeholder-client-ca.key") };

export interface CaFiles {
  cert: string;
  key: string;
}

function openssl(dir: string, args: string[]): void {
  execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
}

/** A CA made now, valid for a day, whose key is deleted with the rehearsal's temp directory. */
export function throwawayCa(dir: string): CaFiles & { pem: string } {
  openssl(dir, [
    "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", "throwaway-ca.key", "-out", "throwaway-ca.crt",
    "-days", "1", "-subj", "/O=stowrs-to-s3 rehearsal/CN=throwaway rehearsal CA",
    "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
  ]);
  const cert = path.join(dir, "throwaway-ca.crt");
  return { cert, key: path.join(dir, "throwaway-ca.key"), pem: fs.readFileSync(cert, "utf8") };
}

/**
 * A client certificate from `ca`; `subject` is a DN as nginx prints it (RFC 2253, most specific
 * first: "CN=pacs1,O=Hospital"), for a stack that admits listed subjects only.
 */
export function issueClientCertificate(dir: string, ca: CaFiles, subject = "CN=rehearsal-client,O=stowrs-to-s3 rehearsal"): { cert: string; key: string } {
  openssl(dir, ["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", "client.key", "-out", "client.csr", "-subj", opensslSubject(subject)]);
  fs.writeFileSync(path.join(dir, "client.ext"), "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n");
  openssl(dir, ["x509", "-req", "-in", "client.csr", "-CA", ca.cert, "-CAkey", ca.key, "-CAcreateserial", "-CAserial", path.join(dir, "ca.srl"), "-days", "1", "-extfile", "client.ext", "-out", "client.crt"]);
  return { cert: fs.readFileSync(path.join(dir, "client.crt"), "utf8"), key: fs.readFileSync(path.join(dir, "client.key"), "utf8") };
}

/** An empty CRL of `ca`, valid a day: with a crl.pem, nginx checks every client certificate's issuer against one. */
export function emptyCrl(dir: string, ca: CaFiles): string {
  fs.writeFileSync(path.join(dir, "index.txt"), "");
  fs.writeFileSync(path.join(dir, "crlnumber"), "01\n");
  fs.writeFileSync(
    path.join(dir, "crl.cnf"),
    "[ca]\ndefault_ca = rehearsal\n[rehearsal]\ndatabase = index.txt\ncrlnumber = crlnumber\ndefault_md = sha256\ndefault_crl_days = 1\n",
  );
  openssl(dir, ["ca", "-config", "crl.cnf", "-gencrl", "-keyfile", ca.key, "-cert", ca.cert, "-out", "ca.crl"]);
  return fs.readFileSync(path.join(dir, "ca.crl"), "utf8");
}

/** RFC 2253 ("CN=pacs1,O=Hospital") to openssl's -subj form ("/O=Hospital/CN=pacs1"). */
export function opensslSubject(dn: string): string {
  const parts = dn.split(/(?<!\\),/).map((p) => p.trim().replace(/\\,/g, ",").replace(/\//g, "\\/"));
  return `/${parts.reverse().join("/")}`;
}
