// The deploy workflow's smoke step, offline: a stand-in `aws` on PATH records the commands
// the script would run against the stack's load balancer security group (testing/fake-aws.ts),
// endpoints are servers on 127.0.0.1, and the end-to-end case runs the real `npm run smoke`
// through the local app + mutual-TLS front + S3 stand-in that smoke.test.ts uses.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { makePki, type Pki } from "../nginx/testing/pki";
import { startMtlsStack, type MtlsStack } from "../nginx/testing/mtls-stack";
import { WORKFLOW_ACTIONS } from "./deploy-permissions";
import { deploySmoke, parseArgs, singleAddress, type DeploySmokeOptions } from "./deploy-smoke";
import { installFakeAws, type FakeAws } from "./testing/fake-aws";

const REPO = path.resolve(__dirname, "..");
const run = promisify(execFile);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "deploy-smoke-test-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const SG = "sg-0123456789abcdef0";
const REGION = "eu-central-1";
const RUNNER = "203.0.113.77/32";
const NEW_RULE = { Return: true, SecurityGroupRules: [{ SecurityGroupRuleId: "sgr-0new", GroupId: SG, IsEgress: false }] };

/** Every aws command any test saw, to check them against the deploy policy's table. */
const seen = new Set<string>();
const servers: (net.Server | http.Server)[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((done) => s.close(done))));
});

let n = 0;
function setup(outputs: Record<string, unknown> = {}): { fake: FakeAws; outputsFile: string } {
  const dir = path.join(tmp, `case-${++n}`);
  fs.mkdirSync(dir);
  const fake = installFakeAws(dir);
  fake.answer("describe-security-group-rules", { SecurityGroupRules: [] });
  fake.answer("authorize-security-group-ingress", NEW_RULE);
  const outputsFile = path.join(dir, "outputs.json");
  fs.writeFileSync(
    outputsFile,
    JSON.stringify({ serviceUrl: "https://127.0.0.1:1", region: REGION, nlbSecurityGroupId: SG, dicomBucketName: "b", authMode: "anonymous", ...outputs }),
  );
  return { fake, outputsFile };
}

/** A TCP server on 127.0.0.1 that accepts and hangs up: reachable, but no TLS. */
async function tcpEndpoint(): Promise<string> {
  const server = net.createServer((socket) => socket.destroy());
  servers.push(server);
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  return `https://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
}

/** A port on 127.0.0.1 nothing listens on. */
async function closedEndpoint(): Promise<string> {
  const server = net.createServer();
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((done) => server.close(done));
  return `https://127.0.0.1:${port}`;
}

async function runInProcess(
  fake: FakeAws,
  outputsFile: string,
  extra: Partial<DeploySmokeOptions> & { env?: Record<string, string | undefined> } = {},
): Promise<{ code: number; lines: string[]; smokeRuns: number; calls: string[][] }> {
  const lines: string[] = [];
  let smokeRuns = 0;
  const code = await deploySmoke({
    smoke: { stack: "org/dev", cwd: REPO, outputsFile },
    runnerCidr: RUNNER,
    reachSeconds: 5,
    runSmoke: async () => {
      smokeRuns += 1;
      return { code: 0 };
    },
    log: (line) => lines.push(line),
    ...extra,
    env: fake.env({ ...process.env, GITHUB_RUN_ID: "4242", ...extra.env }),
  });
  const calls = fake.calls();
  for (const c of calls) seen.add(`${c[0]} ${c[1]}`);
  return { code, lines, smokeRuns, calls };
}

const describeCall = ["ec2", "describe-security-group-rules", "--region", REGION, "--filters", `Name=group-id,Values=${SG}`, "--output", "json"];
const revokeNew = ["ec2", "revoke-security-group-ingress", "--region", REGION, "--group-id", SG, "--security-group-rule-ids", "sgr-0new"];

function authorizedPermissions(call: string[]): any[] {
  expect(call.slice(0, 6)).toEqual(["ec2", "authorize-security-group-ingress", "--region", REGION, "--group-id", SG]);
  return JSON.parse(call[call.indexOf("--ip-permissions") + 1]);
}

describe("deploy-smoke arguments", () => {
  it("takes the stack, --runner-cidr and every option of npm run smoke", () => {
    expect(parseArgs(["org/dev"], "/w")).toEqual({ smoke: expect.objectContaining({ stack: "org/dev", cwd: "/w" }), runnerCidr: undefined });
    const prod = parseArgs(["org/prod", "--runner-cidr", "198.51.100.4", "--client-cert", "c.pem", "--client-key", "k.pem", "--outputs", "o.json"], "/w");
    expect(prod).toEqual({
      smoke: expect.objectContaining({ stack: "org/prod", clientCert: "c.pem", clientKey: "k.pem", outputsFile: "o.json" }),
      runnerCidr: "198.51.100.4",
    });
  });

  it("refuses a missing stack, a lone client certificate, an option without its value, or an unknown option", () => {
    for (const argv of [[], ["--runner-cidr", "1.2.3.4"], ["dev", "--client-cert", "c.pem"], ["dev", "--runner-cidr"], ["dev", "--verbose"], ["dev", "prod"]]) {
      expect(parseArgs(argv, "/w"), argv.join(" ")).toBeUndefined();
    }
  });

  it("prints its usage and exits 2 on bad arguments", async () => {
    const err = await run(process.execPath, ["--import", "tsx", "stacks/deploy-smoke.ts"], { cwd: REPO }).catch((e) => e);
    expect(err.code).toBe(2);
    expect(err.stderr).toMatch(/^usage: npm run deploy-smoke -- <stack> \[--runner-cidr <a\.b\.c\.d\/32>\]/);
  });

  it("lets in exactly one IPv4 address", () => {
    expect(singleAddress("203.0.113.7")).toBe("203.0.113.7/32");
    expect(singleAddress(" 203.0.113.7/32\n")).toBe("203.0.113.7/32");
    for (const bad of ["203.0.113.0/24", "0.0.0.0/0", "203.0.113.7/31", "256.1.1.1", "01.2.3.4", "2001:db8::1", "", "example.com"]) {
      expect(singleAddress(bad), bad).toBeUndefined();
    }
  });
});

describe("deploy-smoke", () => {
  it("allows the runner's /32 on 443, runs the smoke, and removes exactly that rule", async () => {
    const { fake, outputsFile } = setup({ serviceUrl: await tcpEndpoint() });
    const r = await runInProcess(fake, outputsFile);
    expect(r.code).toBe(0);
    expect(r.smokeRuns).toBe(1);
    expect(r.calls).toHaveLength(3);
    expect(r.calls[0]).toEqual(describeCall);
    const permissions = authorizedPermissions(r.calls[1]);
    expect(permissions).toEqual([
      { IpProtocol: "tcp", FromPort: 443, ToPort: 443, IpRanges: [{ CidrIp: RUNNER, Description: expect.stringMatching(/^deploy-smoke \d{4}-\d\d-\d\dT[\d:.]+Z run 4242$/) }] },
    ]);
    expect(r.calls[2]).toEqual(revokeNew);
    expect(r.lines).toContain(`deploy-smoke: allowed ${RUNNER} on 443 in ${SG} (sgr-0new) for the smoke`);
    expect(r.lines.at(-1)).toBe(`deploy-smoke: removed sgr-0new from ${SG}`);
  });

  it("removes the rule when the smoke fails, and fails", async () => {
    const { fake, outputsFile } = setup({ serviceUrl: await tcpEndpoint() });
    const r = await runInProcess(fake, outputsFile, { runSmoke: async () => ({ code: 1 }) });
    expect(r.code).toBe(1);
    expect(r.calls.at(-1)).toEqual(revokeNew);
  });

  it("removes the rule when the smoke throws, and fails", async () => {
    const { fake, outputsFile } = setup({ serviceUrl: await tcpEndpoint() });
    const r = await runInProcess(fake, outputsFile, {
      runSmoke: async () => {
        throw new Error("boom");
      },
    });
    expect(r.code).toBe(1);
    expect(r.lines.some((l) => l.startsWith("deploy-smoke org/dev: FAILED: Error: boom"))).toBe(true);
    expect(r.calls.at(-1)).toEqual(revokeNew);
  });

  it("removes the rule and fails, without a smoke, when the endpoint never accepts a connection", async () => {
    const url = await closedEndpoint();
    const { fake, outputsFile } = setup({ serviceUrl: url });
    const r = await runInProcess(fake, outputsFile, { reachSeconds: 1 });
    expect(r.code).toBe(1);
    expect(r.smokeRuns).toBe(0);
    expect(r.lines).toContain(`deploy-smoke org/dev: FAILED: 127.0.0.1:${new URL(url).port} accepted no connection within 1 s`);
    expect(r.calls.at(-1)).toEqual(revokeNew);
  });

  it("touches nothing when the stack outputs lack the load balancer's security group or region", async () => {
    for (const missing of ["nlbSecurityGroupId", "region"]) {
      const { fake, outputsFile } = setup({ [missing]: undefined });
      const r = await runInProcess(fake, outputsFile);
      expect(r.code).toBe(1);
      expect(r.lines).toContain(`deploy-smoke org/dev: FAILED: the stack outputs have no ${missing} (a stack deployed before this output existed: run pulumi up first)`);
      expect(r.calls).toEqual([]);
    }
  });

  it("touches nothing when the runner's address is wider than one host", async () => {
    const { fake, outputsFile } = setup();
    const r = await runInProcess(fake, outputsFile, { runnerCidr: "203.0.113.0/24" });
    expect(r.code).toBe(1);
    expect(r.lines).toContain(`deploy-smoke org/dev: FAILED: the runner's address must be one IPv4 address (a.b.c.d or a.b.c.d/32), got "203.0.113.0/24"`);
    expect(r.calls).toEqual([]);
  });

  it("asks SMOKE_IP_URL for the runner's public address when none is given", async () => {
    const echo = http.createServer((_req, res) => res.end("198.51.100.23\n"));
    servers.push(echo);
    await new Promise<void>((done) => echo.listen(0, "127.0.0.1", done));
    const { fake, outputsFile } = setup({ serviceUrl: await tcpEndpoint() });
    const r = await runInProcess(fake, outputsFile, {
      runnerCidr: undefined,
      env: { SMOKE_RUNNER_CIDR: "", SMOKE_IP_URL: `http://127.0.0.1:${(echo.address() as net.AddressInfo).port}/` },
    });
    expect(r.code).toBe(0);
    expect(authorizedPermissions(r.calls[1])[0].IpRanges[0].CidrIp).toBe("198.51.100.23/32");
  });

  it("first removes marked rules older than an hour that a killed run left, and nothing else", async () => {
    const { fake, outputsFile } = setup({ serviceUrl: await tcpEndpoint() });
    const now = new Date("2030-05-01T12:00:00Z");
    fake.answer("describe-security-group-rules", {
      SecurityGroupRules: [
        { SecurityGroupRuleId: "sgr-stale", IsEgress: false, Description: "deploy-smoke 2030-05-01T10:00:00.000Z run 1" },
        { SecurityGroupRuleId: "sgr-running", IsEgress: false, Description: "deploy-smoke 2030-05-01T11:55:00.000Z run 2" },
        { SecurityGroupRuleId: "sgr-peer", IsEgress: false, Description: "allowed peer 198.51.100.0/24" },
        { SecurityGroupRuleId: "sgr-egress", IsEgress: true, Description: "deploy-smoke 2030-05-01T10:00:00.000Z" },
      ],
    });
    const r = await runInProcess(fake, outputsFile, { now: () => now });
    expect(r.code).toBe(0);
    expect(r.calls.map((c) => c[1])).toEqual([
      "describe-security-group-rules",
      "revoke-security-group-ingress",
      "authorize-security-group-ingress",
      "revoke-security-group-ingress",
    ]);
    expect(r.calls[1]).toEqual(["ec2", "revoke-security-group-ingress", "--region", REGION, "--group-id", SG, "--security-group-rule-ids", "sgr-stale"]);
    expect(authorizedPermissions(r.calls[2])[0].IpRanges[0].Description).toBe("deploy-smoke 2030-05-01T12:00:00.000Z run 4242");
  });

  it("adds and removes nothing when the runner's address already has a rule, and still runs the smoke", async () => {
    const { fake, outputsFile } = setup({ serviceUrl: await tcpEndpoint() });
    fake.fail(
      "authorize-security-group-ingress",
      `\nAn error occurred (InvalidPermission.Duplicate) when calling the AuthorizeSecurityGroupIngress operation: the specified rule "peer: ${RUNNER}, TCP, from port: 443, to port: 443, ALLOW" already exists\n`,
    );
    const r = await runInProcess(fake, outputsFile);
    expect(r.code).toBe(0);
    expect(r.smokeRuns).toBe(1);
    expect(r.calls.map((c) => c[1])).toEqual(["describe-security-group-rules", "authorize-security-group-ingress"]);
    expect(r.lines).toContain(`deploy-smoke: ${RUNNER} already has a rule in ${SG}; none added, none to remove`);
  });

  it("fails without a smoke when the rule cannot be added", async () => {
    const { fake, outputsFile } = setup({ serviceUrl: await tcpEndpoint() });
    fake.fail("authorize-security-group-ingress", "\nAn error occurred (UnauthorizedOperation) when calling the AuthorizeSecurityGroupIngress operation: You are not authorized\n");
    const r = await runInProcess(fake, outputsFile);
    expect(r.code).toBe(1);
    expect(r.smokeRuns).toBe(0);
    expect(r.lines.at(-1)).toMatch(/FAILED: could not allow 203\.0\.113\.77\/32 on sg-0123456789abcdef0: aws ec2 authorize-security-group-ingress: .*UnauthorizedOperation/);
    expect(r.calls.map((c) => c[1])).toEqual(["describe-security-group-rules", "authorize-security-group-ingress"]);
  });

  it("fails a passing smoke when the rule cannot be removed, saying how to remove it", async () => {
    const { fake, outputsFile } = setup({ serviceUrl: await tcpEndpoint() });
    fake.fail("revoke-security-group-ingress", "\nAn error occurred (RequestLimitExceeded)\n");
    const r = await runInProcess(fake, outputsFile);
    expect(r.smokeRuns).toBe(1);
    expect(r.code).toBe(1);
    expect(r.lines.at(-1)).toBe(
      `deploy-smoke: FAILED to remove sgr-0new from ${SG}: aws ec2 revoke-security-group-ingress: An error occurred (RequestLimitExceeded); ` +
        `remove it yourself: aws ec2 revoke-security-group-ingress --region ${REGION} --group-id ${SG} --security-group-rule-ids sgr-0new`,
    );
  });

  it("removes the rule by its permissions when the CLI's answer names no rule id", async () => {
    const { fake, outputsFile } = setup({ serviceUrl: await tcpEndpoint() });
    fake.answer("authorize-security-group-ingress", { Return: true });
    const r = await runInProcess(fake, outputsFile);
    expect(r.code).toBe(0);
    const revoke = r.calls.at(-1)!;
    expect(revoke.slice(0, 6)).toEqual(["ec2", "revoke-security-group-ingress", "--region", REGION, "--group-id", SG]);
    expect(revoke[6]).toBe("--ip-permissions");
    expect(JSON.parse(revoke[7])).toEqual(authorizedPermissions(r.calls[1]));
  });
});

describe("deploy-smoke as the workflow runs it", () => {
  /** Killed after each test whatever happened: a failed expectation must not leave one waiting for its endpoint. */
  const children: ChildProcess[] = [];
  afterEach(() => {
    for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  });

  function start(args: string[], env: NodeJS.ProcessEnv) {
    const child = spawn(process.execPath, ["--import", "tsx", "stacks/deploy-smoke.ts", ...args], { cwd: REPO, env });
    children.push(child);
    let stdout = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stdout += d));
    const exited = new Promise<number | null>((done) => child.on("exit", (code) => done(code)));
    return { child, exited, output: () => stdout };
  }

  it("removes the rule when the job is cancelled (SIGTERM) while it waits for the endpoint", async () => {
    const { fake, outputsFile } = setup({ serviceUrl: await closedEndpoint() });
    const p = start(["org/dev", "--outputs", outputsFile, "--runner-cidr", RUNNER], fake.env({ ...process.env, SMOKE_REACH_SECONDS: "120" }));
    const deadline = Date.now() + 30_000;
    while (!fake.calls().some((c) => c[1] === "authorize-security-group-ingress") && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(fake.calls().map((c) => c[1])).toContain("authorize-security-group-ingress");
    p.child.kill("SIGTERM");
    expect(await p.exited).toBe(143);
    expect(fake.calls().at(-1)).toEqual(revokeNew);
    expect(p.output()).toContain(`deploy-smoke: removed sgr-0new from ${SG}`);
    for (const c of fake.calls()) seen.add(`${c[0]} ${c[1]}`);
  }, 60_000);

  it("removes the rule when the real smoke fails against the endpoint", async () => {
    const { fake, outputsFile } = setup({ serviceUrl: await tcpEndpoint() });
    const p = start(["org/dev", "--outputs", outputsFile, "--runner-cidr", RUNNER], fake.env());
    expect(await p.exited).toBe(1);
    expect(p.output()).toMatch(/smoke org\/dev: FAILED: POST https:\/\/127\.0\.0\.1:\d+\/studies failed/);
    expect(fake.calls().map((c) => c[1])).toEqual(["describe-security-group-rules", "authorize-security-group-ingress", "revoke-security-group-ingress"]);
  }, 60_000);

  describe("through a local deployment of the same parts", () => {
    let pki: Pki;
    let stack: MtlsStack;
    beforeAll(async () => {
      const dir = path.join(tmp, "pki");
      fs.mkdirSync(dir);
      pki = makePki(dir);
      stack = await startMtlsStack(pki);
    }, 120_000);
    afterAll(async () => {
      await stack?.stop();
    });

    it("stores and verifies the samples with the runner let in, then takes the rule out", async () => {
      const { fake, outputsFile } = setup({
        serviceUrl: stack.front.url,
        dicomBucketName: stack.s3.bucket,
        dicomPrefix: "",
        authMode: "clientauth",
        serverCertificate: pki.server.certPem,
      });
      const { S3_ENDPOINT, S3_FORCE_PATH_STYLE, AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY } = stack.s3.env;
      const env = fake.env({ ...process.env, S3_ENDPOINT, S3_FORCE_PATH_STYLE, AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY });
      const p = start(["org/prod", "--outputs", outputsFile, "--runner-cidr", RUNNER, "--client-cert", pki.client.cert, "--client-key", pki.client.key], env);
      const code = await p.exited;
      expect(p.output()).toContain(`smoke org/prod: 3/3 instances stored through ${stack.front.url} and verified in s3://${stack.s3.bucket}/ (size, sha256)`);
      expect(code).toBe(0);
      expect(fake.calls().map((c) => c[1])).toEqual(["describe-security-group-rules", "authorize-security-group-ingress", "revoke-security-group-ingress"]);
      expect(p.output().trimEnd().split("\n").at(-1)).toBe(`deploy-smoke: removed sgr-0new from ${SG}`);
    }, 120_000);
  });
});

describe("deploy-smoke's permissions", () => {
  it("uses only AWS actions the deploy policy's table lists for it", () => {
    expect(seen.size).toBeGreaterThanOrEqual(3);
    const listed = WORKFLOW_ACTIONS["deploy-smoke: the runner's address allowed on 443, then removed"];
    for (const command of seen) {
      const [service, verb] = command.split(" ");
      const action = `${service}:${verb.split("-").map((w) => w[0].toUpperCase() + w.slice(1)).join("")}`;
      expect(listed, command).toContain(action);
    }
  });
});
