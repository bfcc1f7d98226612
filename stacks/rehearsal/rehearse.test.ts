// The deployment rehearsal end to end: the committed stack files pass; a stack whose
// first `pulumi up` would leave a dead endpoint fails, naming why.
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { listStacks } from "../offline/stack-file";
import { rehearse } from "./run";

const REPO = path.resolve(__dirname, "../..");
const run = promisify(execFile);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "rehearse-test-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** `npm run rehearse -- <target> [options]` as a user types it. */
async function cli(target: string, ...options: string[]) {
  try {
    const { stdout } = await run("npm", ["run", "--silent", "rehearse", "--", target, ...options], { cwd: REPO, maxBuffer: 16 << 20 });
    return { code: 0, stdout };
  } catch (err: any) {
    return { code: err.code as number, stdout: String(err.stdout) };
  }
}

function lastLine(text: string): string {
  return text.trimEnd().split("\n").at(-1) ?? "";
}

/** Pulumi.prod.yaml (or another committed stack file) with `edit` applied, written as Pulumi.<stack>.yaml in a temp dir. */
function prodVariant(stack: string, edit: (config: Record<string, any>) => void, from = "prod"): string {
  const doc = parse(fs.readFileSync(path.join(REPO, `Pulumi.${from}.yaml`), "utf8"));
  edit(doc.config);
  const file = path.join(tmp, `Pulumi.${stack}.yaml`);
  fs.writeFileSync(file, stringify(doc));
  return file;
}

describe("npm run rehearse", () => {
  it.each(listStacks(REPO))("passes for the committed stack file %s, ending with the one-line summary", async (stack) => {
    const { code, stdout } = await cli(stack);
    expect(lastLine(stdout)).toMatch(
      new RegExp(`^rehearsal ${stack}: 3/3 instances stored through https://127\\.0\\.0\\.1:\\d+ \\((anonymous|clientauth), FROMS3 generated certificate\\)$`),
    );
    expect(code, stdout).toBe(0);
    // What it rehearsed, said out loud.
    expect(stdout).toContain("ports: moved to free loopback ports");
    expect(stdout).toMatch(/client: allowedPeers .* treated as including 127\.0\.0\.1/);
    expect(stdout).toContain("nginx: dependsOn app HEALTHY: met");
    expect(stdout).toMatch(/nlb: target healthy: GET \/live on port 8081/);
    expect(stdout).toMatch(/volumes: root file systems nginx read-only, app read-only; nginx writes OUT_DIR=\/run\/front \(volume nginx-out\), app writes TMPDIR=\/tmp \(volume app-tmp\)/);
    expect(stdout).toMatch(/objects written by the stack: \S+\/certificate\.crt, \S+\/certificate\.key/);
    if (stack === "prod") expect(stdout).toMatch(/without a client certificate: refused \(HTTP 400/);
  });

  it("passes dev switched to bearer tokens: a stand-in issuer on loopback, 401 without a token, the samples stored with one", async () => {
    const file = prodVariant(
      "dev-oidc",
      (c) => {
        c["stowrs-to-s3:certificate"] = { mode: "FROMS3", authMode: "oidc" };
        c["stowrs-to-s3:oidc"] = { issuer: "https://keycloak.hospital.test/realms/imaging", audience: "stowrs-dev", algorithms: ["ES256"] };
      },
      "dev",
    );
    const { code, stdout } = await cli(file);
    expect(lastLine(stdout)).toMatch(/^rehearsal dev-oidc: 3\/3 instances stored through https:\/\/127\.0\.0\.1:\d+ \(oidc, FROMS3 generated certificate\)$/);
    expect(code, stdout).toBe(0);
    expect(stdout).toMatch(/oidc: issuer moved: https:\/\/keycloak\.hospital\.test\/realms\/imaging -> http:\/\/127\.0\.0\.1:\d+ \(a stand-in oidc-provider on loopback, issuing ES256 access tokens for audience stowrs-dev with scope dicomweb\.write/);
    expect(stdout).toMatch(/ports: moved .*, app metrics 9464 -> \d+/);
    expect(stdout).toContain('client: without a token: refused (HTTP 401, WWW-Authenticate: Bearer realm="stowrs")');
    expect(stdout).toContain("client: access token from the stand-in issuer (client credentials");
  });

  it("fails prod as it was before certificates were stack config (clientauth, nothing for the truststore), naming the key", async () => {
    const file = prodVariant("prod", (c) => (c["stowrs-to-s3:certificate"] = { mode: "FROMS3", authMode: "clientauth" }));
    const { code, stdout } = await cli(file);
    expect(code).toBe(1);
    expect(lastLine(stdout)).toMatch(/^rehearsal prod: FAILED: the plan fails: stowrs-to-s3:certificate: clientauth needs a truststore source/);
  });

  it("fails when nginx cannot start: clientauth with the files kept in an external bucket that holds none", async () => {
    const file = prodVariant("prod-external", (c) => (c["stowrs-to-s3:certificate"] = { mode: "FROMS3", authMode: "clientauth", source: "external", bucket: "prod-site-tls" }));
    const result = await rehearse({ target: file, cwd: REPO });
    expect(result.code).toBe(1);
    expect(result.summary).toMatch(/^rehearsal prod-external: FAILED: nginx did not start: .*s3:\/\/prod-site-tls\/truststore\.crt does not exist/);
    expect(result.lines).toContainEqual(expect.stringMatching(/buckets .*prod-site-tls.*; objects written by the stack: none$/));
  });

  it("fails when the app exits (a fault injected into its environment), with the app's own reason", async () => {
    const result = await rehearse({ target: "dev", cwd: REPO, faults: { app: { UPLOAD_PART_SIZE_MIB: "4" } } });
    expect(result.code).toBe(1);
    expect(result.summary).toMatch(/^rehearsal dev: FAILED: the app exited with code 2: .*UPLOAD_PART_SIZE_MIB: must be between 5 and 5120, got 4/);
  });

  it(
    "--drain: dev's upload, longer than the planned deregistration delay, survives SIGTERM to both containers, and new connections are refused",
    async () => {
      const { code, stdout } = await cli("dev", "--drain");
      expect(lastLine(stdout)).toMatch(
        /^rehearsal dev: drain: upload finished with HTTP 200 after SIGTERM and is in the bucket byte for byte; a new connection after the signal was refused \(\d+ MiB over \d+ s, SIGTERM after \d+ s\)$/,
      );
      expect(code, stdout).toBe(0);
      // The plain rehearsal passed first, and the timings are the plan's.
      expect(stdout).toMatch(/^rehearsal dev: 3\/3 instances stored through/m);
      const delay = Number(/drain: from the plan: NLB deregistration delay (\d+) s/.exec(stdout)?.[1]);
      const [, lasted, signalledAfter] = /\((\d+) MiB over (\d+) s, SIGTERM after (\d+) s\)$/.exec(lastLine(stdout))!.slice(1);
      expect(Number(signalledAfter)).toBe(delay);
      expect(Number(lasted)).toBeGreaterThan(delay);
      expect(stdout).toMatch(/drain: nginx exited 0 [\d.]+ s after SIGTERM .*, app exited 0 [\d.]+ s after SIGTERM/);
    },
    300_000,
  );

  it("--drain passes prod (mutual TLS) with a shortened wait, and fails when nginx itself gets SIGTERM (the entrypoint as it was: exec nginx)", async () => {
    const short = await rehearse({ target: "prod", cwd: REPO, drain: true, drainTesting: { delaySeconds: 3 } });
    expect(short.summary).toMatch(/^rehearsal prod: drain: upload finished with HTTP 200 after SIGTERM and is in the bucket byte for byte; a new connection after the signal was refused/);
    expect(short.code).toBe(0);
    expect(short.lines).toContainEqual(expect.stringMatching(/^drain: from the plan: .*; this run waits 3 s instead of the delay \(test setting\)$/));

    const direct = await rehearse({ target: "prod", cwd: REPO, drain: true, drainTesting: { delaySeconds: 3, signalNginxDirectly: true } });
    expect(direct.code).toBe(1);
    expect(direct.summary).toMatch(/^rehearsal prod: FAILED: drain: the upload was cut off \((socket hang up|read ECONNRESET)\); a new connection after the signal was refused$/);
  });
});
