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

export function issueClientCertificate(dir: string, ca: CaFiles): { cert: string; key: string } {
  openssl(dir, ["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", "client.key", "-out", "client.csr", "-subj", "/O=stowrs-to-s3 rehearsal/CN=rehearsal-client"]);
  fs.writeFileSync(path.join(dir, "client.ext"), "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n");
  openssl(dir, ["x509", "-req", "-in", "client.csr", "-CA", ca.cert, "-CAkey", ca.key, "-CAcreateserial", "-CAserial", path.join(dir, "ca.srl"), "-days", "1", "-extfile", "client.ext", "-out", "client.crt"]);
  return { cert: fs.readFileSync(path.join(dir, "client.crt"), "utf8"), key: fs.readFileSync(path.join(dir, "client.key"), "utf8") };
}
