import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { main } from "./plan";

const REPO = path.resolve(__dirname, "..");
const run = promisify(execFile);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "stowrs-plan-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

async function cli(args: string[], opts: { npm?: boolean; env?: Record<string, string> } = {}) {
  const [cmd, argv] = opts.npm
    ? ["npm", ["run", "--silent", "plan", "--", ...args]]
    : [process.execPath, ["--import", "tsx", "stacks/plan.ts", ...args]];
  try {
    const { stdout, stderr } = await run(cmd, argv, { cwd: REPO, env: { ...process.env, ...opts.env }, maxBuffer: 64 << 20 });
    return { code: 0, stdout, stderr };
  } catch (err: any) {
    return { code: err.code as number, stdout: err.stdout as string, stderr: err.stderr as string };
  }
}

/** Writes Pulumi.<stack>.yaml into the temp dir: the dev file with `edit` applied to its config. */
function stackFile(stack: string, edit: (config: Record<string, any>) => void): string {
  const doc = parse(fs.readFileSync(path.join(REPO, "Pulumi.dev.yaml"), "utf8"));
  edit(doc.config);
  const file = path.join(tmp, `Pulumi.${stack}.yaml`);
  fs.writeFileSync(file, stringify(doc));
  return file;
}

function row(table: string, type: string, name: string): string {
  const line = table.split("\n").find((l) => l.startsWith(type) && l.split(/\s{2,}/)[1] === name);
  if (!line) throw new Error(`no row ${type} ${name} in\n${table}`);
  return line;
}

describe("npm run plan", () => {
  it("prints the dev topology as a table", async () => {
    const { code, stdout, stderr } = await cli(["dev"], { npm: true });
    expect(stderr).toBe("");
    expect(code).toBe(0);
    expect(stdout).toMatch(/^Stack dev \(.*Pulumi\.dev\.yaml\): \d+ resources/);
    expect(stdout).toContain("TYPE");
    expect(row(stdout, "aws:lb:Listener", "stowrs-dev-tls")).toContain("TCP/443");
    expect(row(stdout, "aws:lb:TargetGroup", "stowrs-dev-tg")).toContain("health=HTTP:8081/live  deregistrationDelay=30s");
    expect(row(stdout, "aws:ecs:Service", "stowrs-dev")).toContain("desired=1");
    expect(row(stdout, "aws:s3:Bucket", "stowrs-dev-dicom")).toContain("retained on destroy");
    expect(stdout).toMatch(/\n {2}serviceUrl: https:\/\//);
    // The template's documentation ranges are warned about, naming the key.
    expect(stdout).toMatch(/\nWarnings \(1\):\n {2}stowrs-to-s3:allowedPeers: placeholder \(pulumi up refuses it\): 192\.0\.2\.0\/24, 198\.51\.100\.0\/24 are documentation ranges/);
  });

  it("prints the prod topology: two tasks, autoscaling, client authentication", async () => {
    const { code, stdout } = await cli(["prod"]);
    expect(code).toBe(0);
    expect(row(stdout, "aws:ecs:Service", "stowrs-prod")).toContain("desired=2");
    expect(row(stdout, "aws:appautoscaling:Target", "stowrs-prod-tasks")).toContain("tasks 2..6");
    expect(row(stdout, "aws:ecs:TaskDefinition", "stowrs-prod")).toContain("AUTH_MODE=clientauth");
    expect(stdout.match(/aws:ec2:NatGateway/g)).toHaveLength(2);
  });

  it("shows in prod's plan the steady-state wait, the NLB's deletion protection, the certificate objects and every placeholder", async () => {
    const { code, stdout } = await cli(["prod"]);
    expect(code).toBe(0);
    expect(row(stdout, "aws:ecs:Service", "stowrs-prod")).toContain("waitForSteadyState=true (timeout 20m)");
    expect(row(stdout, "aws:lb:LoadBalancer", "stowrs-prod-nlb")).toContain("deletionProtection=true");
    expect(row(stdout, "aws:s3:Bucket", "stowrs-prod-dicom")).toContain("protected");
    expect(row(stdout, "aws:s3:BucketObjectv2", "stowrs-prod-certificate-crt")).toMatch(/certificate\.crt {2}content=1 PEM certificate/);
    expect(row(stdout, "aws:s3:BucketObjectv2", "stowrs-prod-certificate-key")).toContain("content=[secret]");
    expect(row(stdout, "aws:s3:BucketObjectv2", "stowrs-prod-truststore-crt")).toContain("PLACEHOLDER client CA");
    const warnings = stdout.slice(stdout.indexOf("\nWarnings (4):"));
    for (const key of ["allowedPeers", "app", "certificate", "alarms"]) expect(warnings).toContain(`stowrs-to-s3:${key}: placeholder`);
    expect(stdout).not.toContain("BEGIN PRIVATE KEY");
    const json = await cli(["prod", "--json"]);
    expect(json.stdout).not.toContain("PRIVATE KEY");
    expect(json.stdout).toContain('"content": "[secret]"');
  });

  it("--json prints one {type, name, provider, dependsOn, inputs} object per resource", async () => {
    const { code, stdout } = await cli(["prod", "--json"]);
    expect(code).toBe(0);
    const list = JSON.parse(stdout);
    expect(Array.isArray(list)).toBe(true);
    expect(list.length).toBeGreaterThan(50);
    for (const r of list) expect(Object.keys(r)).toEqual(["type", "name", "provider", "dependsOn", "inputs"]);
    const listener = list.find((r: any) => r.type === "aws:lb/listener:Listener");
    expect(listener).toMatchObject({ name: "stowrs-prod-tls", inputs: { protocol: "TCP", port: 443 } });
    expect(listener.provider).toMatch(/::pulumi:providers:aws::stowrs-prod-aws::/);
  });

  it("fails naming each invalid key, all at once, with a non-zero exit", async () => {
    const file = stackFile("broken", (c) => {
      c["stowrs-to-s3:appName"] = "a-name-well-over-twenty-characters";
      c["stowrs-to-s3:vpcCidr"] = "10.40.0/16";
      c["stowrs-to-s3:certificate"] = { mode: "ACM", authMode: "clientauth", arn: "arn:aws:acm:eu-central-1:123456789012:certificate/x" };
    });
    const { code, stdout, stderr } = await cli([file]);
    expect(code).not.toBe(0);
    expect(stdout).toBe("");
    const lines = stderr.trim().split("\n");
    expect(lines.some((l) => l.startsWith("stowrs-to-s3:appName: must be 1 to 20 characters"))).toBe(true);
    expect(lines.some((l) => l.startsWith('stowrs-to-s3:vpcCidr: "10.40.0/16" is not an IPv4 CIDR'))).toBe(true);
    expect(lines.some((l) => l.startsWith("stowrs-to-s3:certificate: clientauth needs mode FROMS3"))).toBe(true);
    expect(stderr).not.toMatch(/\n\s+at /); // messages, not a stack trace
  });

  it("explains an unknown stack and a bad command line", async () => {
    const missing = await cli(["staging"]);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/no stack file Pulumi\.staging\.yaml .*stacks there: .*dev.*prod/);
    const usage = await cli(["dev", "--jsn"]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain("unknown option --jsn");
  });
});

describe("plan of an edited stack file", () => {
  it("shows changed peers, certificate mode and part concurrency", async () => {
    const arn = "arn:aws:acm:eu-central-1:123456789012:certificate/11111111-2222-3333-4444-555555555555";
    const file = stackFile("edited", (c) => {
      c["stowrs-to-s3:allowedPeers"] = ["192.0.2.0/24", "203.0.113.99/32"];
      c["stowrs-to-s3:certificate"] = { mode: "ACM", authMode: "anonymous", arn };
      c["stowrs-to-s3:upload"].partConcurrency = 11;
      // Left unset, the admission limit is what fits the app's memory with 11 parts in flight.
      delete c["stowrs-to-s3:upload"].maxInstancesInFlight;
    });
    const { code, stdout, stderr } = await main([file], REPO);
    expect(stderr).toBe("");
    expect(code).toBe(0);
    expect(row(stdout, "aws:vpc:SecurityGroupIngressRule", "stowrs-dev-peer-203-0-113-99-32")).toContain("from 203.0.113.99/32");
    expect(stdout).not.toContain("198-51-100-0-24");
    expect(row(stdout, "aws:lb:Listener", "stowrs-dev-tls")).toContain(`TLS/443  ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09  cert=${arn}`);
    expect(stdout).not.toContain("stowrs-dev-certificates");
    expect(row(stdout, "aws:ecs:TaskDefinition", "stowrs-dev")).toContain("UPLOAD_PART_CONCURRENCY=11");
    // (1024 - 256 - 160) / (8 x 13) = 5
    expect(row(stdout, "aws:ecs:TaskDefinition", "stowrs-dev")).toContain("MAX_INSTANCES_IN_FLIGHT=5");
  });

  it("finds Pulumi.<stack>.yaml by name beside the nearest Pulumi.yaml, as the Pulumi CLI does", async () => {
    const project = fs.mkdtempSync(path.join(tmp, "project-"));
    fs.copyFileSync(path.join(REPO, "Pulumi.yaml"), path.join(project, "Pulumi.yaml"));
    const doc = parse(fs.readFileSync(path.join(REPO, "Pulumi.dev.yaml"), "utf8"));
    doc.config["stowrs-to-s3:appName"] = "stowrs-qa";
    fs.writeFileSync(path.join(project, "Pulumi.qa.yaml"), stringify(doc));
    const nested = path.join(project, "sub", "dir");
    fs.mkdirSync(nested, { recursive: true });

    const { code, stdout } = await cli(["qa"], { env: { INIT_CWD: nested } });
    expect(code).toBe(0);
    expect(stdout).toMatch(/^Stack qa \(.*Pulumi\.qa\.yaml\)/);
    expect(row(stdout, "aws:ecs:Service", "stowrs-qa")).toContain("desired=1");
  });

  it.each([
    ["an invalid certificate combination", (c: any) => (c["stowrs-to-s3:certificate"] = { mode: "ACM", authMode: "clientauth" }), "stowrs-to-s3:certificate:"],
    ["a malformed CIDR", (c: any) => (c["stowrs-to-s3:allowedPeers"] = ["203.0.113.0/24", "203.0.113.300/32"]), "stowrs-to-s3:allowedPeers:"],
    ["an over-long app name", (c: any) => (c["stowrs-to-s3:appName"] = "stowrs-development-environment"), "stowrs-to-s3:appName:"],
  ])("fails for %s, naming the key", async (_label, edit, key) => {
    const file = stackFile("invalid", edit);
    const { code, stdout, stderr } = await main([file], REPO);
    expect(code).toBe(1);
    expect(stdout).toBe("");
    expect(stderr.split("\n").filter(Boolean).every((l) => l.startsWith(key))).toBe(true);
    expect(stderr).toContain(key);
  });

  it("--policies checks the plan against the policy pack with the stack's pack configuration", async () => {
    const dir = fs.mkdtempSync(path.join(tmp, "policies-"));
    const doc = parse(fs.readFileSync(path.join(REPO, "Pulumi.prod.yaml"), "utf8"));
    doc.config["stowrs-to-s3:allowedPeers"] = ["0.0.0.0/0"];
    const file = path.join(dir, "Pulumi.prod.yaml");
    fs.writeFileSync(file, stringify(doc));
    const open = await main([file, "--policies"], REPO);
    expect(open.code).toBe(1);
    expect(open.stdout).toContain("[mandatory] no-world-ingress: stowrs-prod-peer-0-0-0-0-0: ingress rule admits 0.0.0.0/0 on port 443");
    const committed = await main(["prod", "--policies"], REPO);
    expect(committed.code).toBe(0);
    expect(committed.stdout).toContain("Policies (stacks/policy): no violations");
  });

  it("refuses encrypted values it cannot read offline, naming the key", async () => {
    const file = stackFile("secret", (c) => (c["stowrs-to-s3:appName"] = { secure: "v1:abc" }));
    const { code, stderr } = await main([file], REPO);
    expect(code).toBe(1);
    expect(stderr).toContain("stowrs-to-s3:appName: is a secret");
  });
});
