// The deployment rehearsal end to end: every stack file of the repository passes, whatever it
// holds; so do an operator's real setup (own CA, certificate from config, key as a secret of
// either provider) and a new stack copied from an existing one; a stack whose first
// `pulumi up` would leave a dead endpoint fails, naming why.
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { makePki } from "../../nginx/testing/pki";
import { listStacks } from "../offline/stack-file";
import { ANONYMOUS, certificateSha256, CLIENTAUTH, variant, withOwnCertificates, type StackDoc } from "../testing/fixtures";
import { rehearse } from "./run";

const REPO = path.resolve(__dirname, "../..");
const run = promisify(execFile);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "rehearse-test-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const pki = makePki(fs.mkdtempSync(path.join(tmp, "pki-")));

/** The environment without a passphrase or client certificate the developer's shell may hold. */
function cleanEnv(extra: Record<string, string> = {}): Record<string, string | undefined> {
  const { PULUMI_CONFIG_PASSPHRASE: _p, PULUMI_CONFIG_PASSPHRASE_FILE: _f, REHEARSE_CLIENT_CERT: _c, REHEARSE_CLIENT_KEY: _k, ...env } = process.env;
  return { ...env, ...extra };
}

/** `npm run rehearse -- <target> [options]` as a user types it. */
async function cli(target: string, options: string[] = [], env: Record<string, string | undefined> = cleanEnv()) {
  try {
    const { stdout, stderr } = await run("npm", ["run", "--silent", "rehearse", "--", target, ...options], { cwd: REPO, env, maxBuffer: 16 << 20 });
    return { code: 0, stdout, stderr };
  } catch (err: any) {
    return { code: err.code as number, stdout: String(err.stdout), stderr: String(err.stderr) };
  }
}

/** Apps the rehearsals run, from their build directory (with the pid of each). */
function rehearsalApps(): number[] {
  return fs
    .readdirSync("/proc")
    .filter((d) => /^\d+$/.test(d))
    .filter((d) => {
      try {
        return fs.readlinkSync(`/proc/${d}/cwd`).startsWith(path.join(REPO, "node_modules", ".cache", "stowrs-rehearsal"));
      } catch {
        return false;
      }
    })
    .map(Number);
}

function lastLine(text: string): string {
  return text.trimEnd().split("\n").at(-1) ?? "";
}

const SUMMARY = (stack: string) =>
  new RegExp(`^rehearsal ${stack}: 3/3 instances stored through https://127\\.0\\.0\\.1:\\d+ \\((anonymous|clientauth|oidc|clientauth\\+oidc), (FROMS3 generated certificate|FROMS3 certificate from config|ACM)\\)$`);

describe("npm run rehearse", () => {
  it.each(listStacks(REPO))("passes for the repository's stack file %s, ending with the one-line summary", async (stack) => {
    const { code, stdout, stderr } = await cli(stack);
    expect(lastLine(stdout)).toMatch(SUMMARY(stack));
    expect(code, stdout).toBe(0);
    // Its own stops ended every process it started, and it says so.
    expect(stderr).toContain("rehearsal: every process the rehearsal started has ended");
    // What it rehearsed, said out loud.
    expect(stdout).toContain("ports: moved to free loopback ports");
    expect(stdout).toMatch(/client: allowedPeers .* treated as including 127\.0\.0\.1/);
    expect(stdout).toContain("nginx: dependsOn app HEALTHY: met");
    expect(stdout).toMatch(/nlb: target healthy: GET \/live on port 8081/);
    expect(stdout).toMatch(/volumes: root file systems nginx read-only, app read-only; nginx writes OUT_DIR=\/run\/front \(volume nginx-out\), app writes TMPDIR=\/tmp \(volume app-tmp\)/);
    if (/\(clientauth/.test(lastLine(stdout))) expect(stdout).toMatch(/without a client certificate: refused \(HTTP 400/);
    if (!/, ACM\)$/.test(lastLine(stdout))) {
      expect(stdout).toMatch(/objects written by the stack: \S+\/certificate\.crt, \S+\/certificate\.key/);
      expect(stdout).toMatch(/\nclient: server certificate sha256 [0-9a-f]{64}\n/);
    }
  });

  it("passes a new stack copied from one of the repository's with only appName and vpcCidr changed", async () => {
    const stacks = listStacks(REPO);
    const source = stacks.includes("dev") ? "dev" : stacks[0];
    const file = variant(tmp, path.join(REPO, `Pulumi.${source}.yaml`), "staging", (doc) => {
      doc.config["stowrs-to-s3:appName"] = "stowrs-staging";
      doc.config["stowrs-to-s3:vpcCidr"] = "10.199.0.0/16";
    });
    const { code, stdout } = await cli(file);
    expect(lastLine(stdout)).toMatch(SUMMARY("staging"));
    expect(code, stdout).toBe(0);
  });

  it("passes an operator's prod: own CA with a CRL and listed subjects, serverCertificate in plain text, serverKey a passphrase secret, decrypted with PULUMI_CONFIG_PASSPHRASE", async () => {
    const file = variant(tmp, CLIENTAUTH, "prod", (doc) => {
      withOwnCertificates(doc, pki, { passphrase: "hospital passphrase" });
      // Their CA's revocation list, and only listed senders: the throwaway client must pass both.
      Object.assign(doc.config["stowrs-to-s3:certificate"], { crl: pki.crl.current, allowedClientSubjects: ["CN=pacs-north,O=Hospital North"] });
    });
    const result = await rehearse({ target: file, cwd: REPO, env: cleanEnv({ PULUMI_CONFIG_PASSPHRASE: "hospital passphrase" }) });
    expect(result.summary).toMatch(/^rehearsal prod: 3\/3 instances stored through https:\/\/127\.0\.0\.1:\d+ \(clientauth, FROMS3 certificate from config\)$/);
    expect(result.code, result.lines.join("\n")).toBe(0);
    expect(result.lines).toContain("secrets: decrypted stowrs-to-s3:certificate.serverKey with PULUMI_CONFIG_PASSPHRASE (passphrase provider)");
    // CI has no client certificate of the sites' CA: a throwaway CA joins the rehearsal's truststore copy only.
    expect(result.lines).toContainEqual(
      expect.stringMatching(
        /^client: no client certificate given .*: a throwaway CA is added to the rehearsal's copy of truststore\.crt only .*; subject CN=pacs-north,O=Hospital North \(the first of allowedClientSubjects\), an empty CRL of that CA added to the rehearsal's copy of crl\.pem$/,
      ),
    );
    expect(result.lines).toContainEqual(expect.stringMatching(/^client: without a client certificate: refused \(HTTP 400/));
    expect(result.lines).toContain(`client: server certificate sha256 ${certificateSha256(pki.server.certPem)}`);
    // The test PKI's certificates live two days: the renewal notice for a configured certificate.
    expect(result.lines).toContainEqual(expect.stringMatching(/^plan: warning: certificate: serverCertificate \(valid until .*\) expires in [01] days?: renew it/));
    expect(result.lines.join("\n")).not.toContain("PRIVATE KEY");
  });

  it("passes with a Pulumi Cloud secret it cannot decrypt, naming the stand-ins, and a client certificate from REHEARSE_CLIENT_CERT", async () => {
    const file = variant(tmp, CLIENTAUTH, "prod", (doc) => withOwnCertificates(doc, pki, "pulumi-cloud"));
    const env = cleanEnv({ REHEARSE_CLIENT_CERT: pki.client.certPem, REHEARSE_CLIENT_KEY: pki.client.keyPem, PULUMI_CONFIG_PASSPHRASE: "not used: no encryptionsalt" });
    const { code, stdout } = await cli(file, [], env);
    expect(lastLine(stdout)).toMatch(/^rehearsal prod: 3\/3 instances stored through .* \(clientauth, FROMS3 certificate from config\)$/);
    expect(code, stdout).toBe(0);
    expect(stdout).toContain(
      "secrets: throwaway stand-ins for stowrs-to-s3:certificate.serverKey (a throwaway key, with a throwaway certificate for IP:127.0.0.1, DNS:localhost in place of serverCertificate): " +
        "Pulumi.prod.yaml has no encryptionsalt: its secrets are Pulumi Cloud's, which only the Pulumi service decrypts",
    );
    expect(stdout).toContain("client: client certificate from REHEARSE_CLIENT_CERT (key: REHEARSE_CLIENT_KEY)");
    const sha = /\nclient: server certificate sha256 ([0-9a-f]{64})\n/.exec(stdout)?.[1];
    expect(sha).toBeDefined();
    expect(sha).not.toBe(certificateSha256(pki.server.certPem));
  });

  it("stops at once when the passphrase is not the stack's, naming the variable", async () => {
    const file = variant(tmp, CLIENTAUTH, "prod", (doc) => withOwnCertificates(doc, pki, { passphrase: "the right one" }));
    const passphraseFile = path.join(tmp, "passphrase.txt");
    fs.writeFileSync(passphraseFile, "the wrong one\n");
    const wrong = await rehearse({ target: file, cwd: REPO, env: cleanEnv({ PULUMI_CONFIG_PASSPHRASE_FILE: passphraseFile }) });
    expect(wrong.code).toBe(1);
    expect(wrong.summary).toBe(`rehearsal prod: FAILED: secrets: PULUMI_CONFIG_PASSPHRASE_FILE (${passphraseFile}) is not the passphrase of Pulumi.prod.yaml (its encryptionsalt does not unlock with it)`);
    expect(wrong.lines).toHaveLength(1);
  });

  it("passes anonymous switched to bearer tokens: a stand-in issuer on loopback, 401 without a token, the samples stored with one", async () => {
    const file = variant(tmp, ANONYMOUS, "with-oidc", (doc) => {
      doc.config["stowrs-to-s3:certificate"] = { mode: "FROMS3", authMode: "oidc" };
      doc.config["stowrs-to-s3:oidc"] = { issuer: "https://keycloak.hospital.test/realms/imaging", audience: "stowrs-dev", algorithms: ["ES256"] };
    });
    const { code, stdout } = await cli(file);
    expect(lastLine(stdout)).toMatch(/^rehearsal with-oidc: 3\/3 instances stored through https:\/\/127\.0\.0\.1:\d+ \(oidc, FROMS3 generated certificate\)$/);
    expect(code, stdout).toBe(0);
    expect(stdout).toMatch(/oidc: issuer moved: https:\/\/keycloak\.hospital\.test\/realms\/imaging -> http:\/\/127\.0\.0\.1:\d+ \(a stand-in oidc-provider on loopback, issuing ES256 access tokens for audience stowrs-dev with scope dicomweb\.write/);
    expect(stdout).toMatch(/ports: moved .*, app metrics 9464 -> \d+/);
    expect(stdout).toContain('client: without a token: refused (HTTP 401, WWW-Authenticate: Bearer realm="stowrs")');
    expect(stdout).toContain("client: access token from the stand-in issuer (client credentials");
  });

  it("fails clientauth with nothing for the truststore, naming the key", async () => {
    const file = variant(tmp, CLIENTAUTH, "prod", (doc: StackDoc) => (doc.config["stowrs-to-s3:certificate"] = { mode: "FROMS3", authMode: "clientauth" }));
    const { code, stdout } = await cli(file);
    expect(code).toBe(1);
    expect(lastLine(stdout)).toMatch(/^rehearsal prod: FAILED: the plan fails: stowrs-to-s3:certificate: clientauth needs a truststore source/);
  });

  it("fails when nginx cannot start: clientauth with the files kept in an external bucket that holds none", async () => {
    const file = variant(tmp, CLIENTAUTH, "prod-external", (doc) => (doc.config["stowrs-to-s3:certificate"] = { mode: "FROMS3", authMode: "clientauth", source: "external", bucket: "prod-site-tls" }));
    const result = await rehearse({ target: file, cwd: REPO, env: cleanEnv() });
    expect(result.code).toBe(1);
    expect(result.summary).toMatch(/^rehearsal prod-external: FAILED: nginx did not start: .*s3:\/\/prod-site-tls\/truststore\.crt does not exist/);
    expect(result.lines).toContainEqual(expect.stringMatching(/buckets .*prod-site-tls.*; objects written by the stack: none$/));
  });

  it("fails when the app exits (a fault injected into its environment), with the app's own reason", async () => {
    // With the deployed stack's outputs, the plan step also judges the generated certificate there (here: already due).
    const deployedOutputs = { certificateSource: "FROMS3 generated certificate", serverCertificate: pki.server.certPem };
    const result = await rehearse({ target: ANONYMOUS, cwd: REPO, env: cleanEnv(), deployedOutputs, faults: { app: { UPLOAD_PART_SIZE_MIB: "4" } } });
    expect(result.lines).toContainEqual(expect.stringMatching(/^plan: warning: certificate: the generated server certificate \(valid until .*\) is due for renewal: the next pulumi up replaces it/));
    expect(result.code).toBe(1);
    expect(result.summary).toMatch(/^rehearsal fixture-anonymous: FAILED: the app exited with code 2: .*UPLOAD_PART_SIZE_MIB: must be between 5 and 5120, got 4/);
  });

  it(
    "--drain: an upload longer than the planned deregistration delay survives SIGTERM to both containers, and new connections are refused",
    async () => {
      const { code, stdout } = await cli(ANONYMOUS, ["--drain"]);
      expect(lastLine(stdout)).toMatch(
        /^rehearsal fixture-anonymous: drain: upload finished with HTTP 200 after SIGTERM and is in the bucket byte for byte; a new connection after the signal was refused \(\d+ MiB over \d+ s, SIGTERM after \d+ s\)$/,
      );
      expect(code, stdout).toBe(0);
      // The plain rehearsal passed first, and the timings are the plan's.
      expect(stdout).toMatch(/^rehearsal fixture-anonymous: 3\/3 instances stored through/m);
      const delay = Number(/drain: from the plan: NLB deregistration delay (\d+) s/.exec(stdout)?.[1]);
      const [, lasted, signalledAfter] = /\((\d+) MiB over (\d+) s, SIGTERM after (\d+) s\)$/.exec(lastLine(stdout))!.slice(1);
      expect(Number(signalledAfter)).toBe(delay);
      expect(Number(lasted)).toBeGreaterThan(delay);
      expect(stdout).toMatch(/drain: nginx exited 0 [\d.]+ s after SIGTERM .*, app exited 0 [\d.]+ s after SIGTERM/);
    },
    300_000,
  );

  it("--drain passes mutual TLS with a shortened wait, and fails when nginx itself gets SIGTERM (the entrypoint as it was: exec nginx)", async () => {
    const short = await rehearse({ target: CLIENTAUTH, cwd: REPO, env: cleanEnv(), drain: true, drainTesting: { delaySeconds: 3 } });
    expect(short.summary).toMatch(/^rehearsal fixture-clientauth: drain: upload finished with HTTP 200 after SIGTERM and is in the bucket byte for byte; a new connection after the signal was refused/);
    expect(short.code).toBe(0);
    expect(short.lines).toContainEqual(expect.stringMatching(/^drain: from the plan: .*; this run waits 3 s instead of the delay \(test setting\)$/));

    const direct = await rehearse({ target: CLIENTAUTH, cwd: REPO, env: cleanEnv(), drain: true, drainTesting: { delaySeconds: 3, signalNginxDirectly: true } });
    expect(direct.code).toBe(1);
    expect(direct.summary).toMatch(/^rehearsal fixture-clientauth: FAILED: drain: the upload was cut off \((socket hang up|read ECONNRESET)\); a new connection after the signal was refused$/);
  });
});

describe("npm run rehearse, cut short", () => {
  it("past REHEARSE_TIMEOUT_SECONDS fails, ends every process it had started and says which", async () => {
    const before = new Set(rehearsalApps());
    const { code, stderr } = await cli(ANONYMOUS, [], cleanEnv({ REHEARSE_TIMEOUT_SECONDS: "1" }));
    // Nothing it started runs on: not even an app it started while it was being stopped.
    expect(rehearsalApps().filter((pid) => !before.has(pid))).toEqual([]);
    expect(code).toBe(1);
    expect(stderr).toContain("rehearsal: FAILED: not done after 1 s (REHEARSE_TIMEOUT_SECONDS): stopping everything it started");
    expect(stderr).toMatch(/rehearsal: (ended \d+ process\(es\) still running: \d+ \(.+\)|every process the rehearsal started has ended)/);
  });
});
