// Checks that the edits stacks/README suggests to an operator keep the stacks' tests green:
// in a temp copy of this checkout (never in it), dev gets a real /32 and authMode oidc with the
// README's Keycloak block, prod its own CA, a real peer and WADO base URL and a server
// certificate from config with the key a passphrase secret, a staging copy of dev is added
// (appName and vpcCidr changed) and switched to ACM; then the one snapshot command runs for each
// stack and `npx vitest run stacks` runs there.
//
//   node --import tsx stacks/testing/operator-edits.ts [--keep] [-- <vitest args>]
//
// Slow (it rehearses every stack file: about a minute each), so it is a script, not part of `npm test`.
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse, stringify } from "yaml";
import { encryptValue, newEncryptionSalt } from "../offline/pulumi-secrets";

const REPO = path.resolve(__dirname, "../..");
const PASSPHRASE = "operator-edits check";

type Doc = { config: Record<string, any>; [top: string]: unknown };

function copyCheckout(target: string): void {
  const files = execFileSync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], { cwd: REPO }).toString().split("\0").filter(Boolean);
  for (const f of files) {
    const from = path.join(REPO, f);
    if (!fs.existsSync(from)) continue; // deleted in the work tree
    fs.mkdirSync(path.dirname(path.join(target, f)), { recursive: true });
    fs.copyFileSync(from, path.join(target, f));
    fs.chmodSync(path.join(target, f), fs.statSync(from).mode); // entrypoint.sh and friends stay executable
  }
  fs.symlinkSync(path.join(REPO, "node_modules"), path.join(target, "node_modules"));
}

function edit(root: string, stack: string, change: (doc: Doc) => void, from = stack): void {
  const doc = parse(fs.readFileSync(path.join(root, `Pulumi.${from}.yaml`), "utf8")) as Doc;
  change(doc);
  fs.writeFileSync(path.join(root, `Pulumi.${stack}.yaml`), stringify(doc));
}

/** The operator's own PKI: a CA for the senders, and a server certificate for the name clients use. */
function operatorPki(dir: string): { caPem: string; certPem: string; keyPem: string } {
  const run = (args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
  run(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", "sites-ca.key", "-out", "sites-ca.pem", "-days", "30",
    "-subj", "/O=Hospital/CN=Sites CA", "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"]);
  run(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", "server.key", "-out", "server.pem", "-days", "365",
    "-subj", "/O=Hospital/CN=stow.hospital-north.net", "-addext", "subjectAltName=DNS:stow.hospital-north.net"]);
  const read = (f: string) => fs.readFileSync(path.join(dir, f), "utf8");
  return { caPem: read("sites-ca.pem"), certPem: read("server.pem"), keyPem: read("server.key") };
}

function main(argv: string[]): number {
  const keep = argv.includes("--keep");
  const extra = argv.includes("--") ? argv.slice(argv.indexOf("--") + 1) : [];
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "operator-edits-"));
  // nginx runs the copy's entrypoint as its own unprivileged user, which must reach it.
  fs.chmodSync(tmp, 0o755);
  const root = path.join(tmp, "repo");
  try {
    copyCheckout(root);
    const pki = operatorPki(fs.mkdtempSync(path.join(tmp, "pki-")));

    // dev: the workstation's address, and bearer tokens from Keycloak (stacks/README, "Bearer tokens").
    edit(root, "dev", (doc) => {
      doc.config["stowrs-to-s3:allowedPeers"] = ["81.2.69.160/32"];
      doc.config["stowrs-to-s3:certificate"] = { mode: "FROMS3", authMode: "oidc" };
      doc.config["stowrs-to-s3:oidc"] = { issuer: "https://keycloak.hospital.example/realms/imaging", audience: "stowrs", requiredScope: "dicomweb.write" };
    });
    // prod: the sites' egress, their CA, the PACS, and a certificate from the hospital's CA with its key as a secret.
    edit(root, "prod", (doc) => {
      const { encryptionSalt, key } = newEncryptionSalt(PASSPHRASE);
      doc.config["stowrs-to-s3:allowedPeers"] = ["81.2.69.0/28", "81.2.70.7/32"];
      doc.config["stowrs-to-s3:app"] = { ...doc.config["stowrs-to-s3:app"], wadoUrl: "https://pacs.hospital-north.net/dicomweb" };
      doc.config["stowrs-to-s3:certificate"] = {
        ...doc.config["stowrs-to-s3:certificate"],
        truststore: pki.caPem,
        serverCertificate: pki.certPem,
        serverKey: { secure: encryptValue(key, pki.keyPem) },
      };
      const config = doc.config;
      for (const k of Object.keys(doc)) delete doc[k];
      Object.assign(doc, { encryptionsalt: encryptionSalt, config });
    });
    // A new environment: a copy of dev, its own appName and vpcCidr; then switched to ACM (stacks/README, "Switching modes").
    edit(root, "staging", (doc) => {
      doc.config["stowrs-to-s3:appName"] = "stowrs-staging";
      doc.config["stowrs-to-s3:vpcCidr"] = "10.42.0.0/16";
    }, "dev");
    edit(root, "staging", (doc) => {
      doc.config["stowrs-to-s3:certificate"] = { ...doc.config["stowrs-to-s3:certificate"], mode: "ACM", arn: "arn:aws:acm:eu-central-1:123456789012:certificate/0b1c2d3e-aaaa-bbbb-cccc-0123456789ab" };
    });

    const stacks = fs.readdirSync(root).map((f) => /^Pulumi\.(.+)\.ya?ml$/.exec(f)?.[1]).filter((s): s is string => !!s);
    const env = { ...process.env, INIT_CWD: root };
    for (const stack of stacks) {
      const r = spawnSync("npm", ["run", "-s", "plan", "--", stack, "--write-snapshot"], { cwd: root, env, encoding: "utf8" });
      process.stdout.write(`operator-edits: ${stack}: ${(r.stdout + r.stderr).trim()}\n`);
      if (r.status !== 0) return 1;
    }
    process.stdout.write(`operator-edits: edited stack files and snapshots in ${root}; running npx vitest run stacks ${extra.join(" ")}\n`);
    const tests = spawnSync("npx", ["vitest", "run", "stacks", ...extra], { cwd: root, env, stdio: "inherit" });
    process.stdout.write(`operator-edits: ${tests.status === 0 ? "the stacks' tests pass" : "the stacks' tests FAIL"} with the edits stacks/README suggests\n`);
    return tests.status ?? 1;
  } finally {
    if (keep) process.stdout.write(`operator-edits: kept ${tmp}\n`);
    else fs.rmSync(tmp, { recursive: true, force: true });
  }
}

if (require.main === module) process.exit(main(process.argv.slice(2)));
