import { execFile, execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { makePki } from "../nginx/testing/pki";
import { listStacks } from "./offline/stack-file";
import { main } from "./plan";
import { ANONYMOUS, CLIENTAUTH, FIXTURES_DIR, variant, withOwnCertificates, type StackDoc } from "./testing/fixtures";

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

/** The anonymous fixture with `edit` applied to its config, as Pulumi.<stack>.yaml alone in a temp dir. */
function stackFile(stack: string, edit: (config: Record<string, any>) => void): string {
  return variant(tmp, ANONYMOUS, stack, (doc) => edit(doc.config));
}

function row(table: string, type: string, name: string): string {
  const line = table.split("\n").find((l) => l.startsWith(type) && l.split(/\s{2,}/)[1] === name);
  if (!line) throw new Error(`no row ${type} ${name} in\n${table}`);
  return line;
}

describe("npm run plan", () => {
  it("prints a stack's topology as a table", async () => {
    const { code, stdout, stderr } = await cli([path.relative(REPO, ANONYMOUS)], { npm: true });
    expect(stderr).toBe("");
    expect(code).toBe(0);
    expect(stdout).toMatch(/^Stack fixture-anonymous \(.*Pulumi\.fixture-anonymous\.yaml\): \d+ resources/);
    expect(stdout).toContain("TYPE");
    expect(row(stdout, "aws:lb:Listener", "fixture-anon-tls")).toContain("TCP/443");
    expect(row(stdout, "aws:lb:TargetGroup", "fixture-anon-tg")).toContain("health=HTTP:8081/live  deregistrationDelay=30s");
    expect(row(stdout, "aws:ecs:Service", "fixture-anon")).toContain("desired=1");
    expect(row(stdout, "aws:s3:Bucket", "fixture-anon-dicom")).toContain("retained on destroy");
    expect(stdout).toMatch(/\n {2}serviceUrl: https:\/\//);
    // The fixture's documentation ranges are warned about, naming the key.
    expect(stdout).toMatch(/\nWarnings \(1\):\n {2}stowrs-to-s3:allowedPeers: placeholder \(pulumi up refuses it\): 192\.0\.2\.0\/24, 198\.51\.100\.0\/24 are documentation ranges/);
  });

  it("prints a topology with two tasks, autoscaling, client authentication", async () => {
    const { code, stdout } = await cli([CLIENTAUTH]);
    expect(code).toBe(0);
    expect(row(stdout, "aws:ecs:Service", "fixture-mtls")).toContain("desired=2");
    expect(row(stdout, "aws:appautoscaling:Target", "fixture-mtls-tasks")).toContain("tasks 2..6");
    expect(row(stdout, "aws:ecs:TaskDefinition", "fixture-mtls")).toContain("AUTH_MODE=clientauth");
    expect(stdout.match(/aws:ec2:NatGateway/g)).toHaveLength(2);
  });

  it("shows the steady-state wait, the NLB's deletion protection, the certificate objects and every placeholder", async () => {
    const { code, stdout } = await cli([CLIENTAUTH]);
    expect(code).toBe(0);
    expect(row(stdout, "aws:ecs:Service", "fixture-mtls")).toContain("waitForSteadyState=true (timeout 20m)");
    expect(row(stdout, "aws:lb:LoadBalancer", "fixture-mtls-nlb")).toContain("deletionProtection=true");
    expect(row(stdout, "aws:s3:Bucket", "fixture-mtls-dicom")).toContain("protected");
    expect(row(stdout, "aws:s3:BucketObjectv2", "fixture-mtls-certificate-crt")).toMatch(/certificate\.crt {2}content=1 PEM certificate/);
    expect(row(stdout, "aws:s3:BucketObjectv2", "fixture-mtls-certificate-key")).toContain("content=[secret]");
    expect(row(stdout, "aws:s3:BucketObjectv2", "fixture-mtls-truststore-crt")).toContain("PLACEHOLDER client CA");
    const warnings = stdout.slice(stdout.indexOf("\nWarnings (4):"));
    for (const key of ["allowedPeers", "app", "certificate", "alarms"]) expect(warnings).toContain(`stowrs-to-s3:${key}: placeholder`);
    expect(stdout).not.toContain("BEGIN PRIVATE KEY");
    const json = await cli([CLIENTAUTH, "--json"]);
    expect(json.stdout).not.toContain("PRIVATE KEY");
    expect(json.stdout).toContain('"content": "[secret]"');
  });

  it("--json prints one {type, name, provider, dependsOn, inputs} object per resource", async () => {
    const { code, stdout } = await cli([CLIENTAUTH, "--json"]);
    expect(code).toBe(0);
    const list = JSON.parse(stdout);
    expect(Array.isArray(list)).toBe(true);
    expect(list.length).toBeGreaterThan(50);
    for (const r of list) expect(Object.keys(r)).toEqual(["type", "name", "provider", "dependsOn", "inputs"]);
    const listener = list.find((r: any) => r.type === "aws:lb/listener:Listener");
    expect(listener).toMatchObject({ name: "fixture-mtls-tls", inputs: { protocol: "TCP", port: 443 } });
    expect(listener.provider).toMatch(/::pulumi:providers:aws::fixture-mtls-aws::/);
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
    const missing = await cli(["no-such-stack-0x5f"]);
    expect(missing.code).not.toBe(0);
    const known = listStacks(REPO);
    expect(missing.stderr).toContain(`no stack file Pulumi.no-such-stack-0x5f.yaml in ${REPO}`);
    if (known.length > 0) expect(missing.stderr).toContain(`(stacks there: ${known.join(", ")})`);
    const usage = await cli([ANONYMOUS, "--jsn"]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain("unknown option --jsn");
  });

  it("plans every stack file of the repository (whatever it holds)", async () => {
    for (const stack of listStacks(REPO)) {
      const { code, stderr } = await main([stack], REPO);
      expect(code, `${stack}: ${stderr}`).toBe(0);
    }
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
    expect(row(stdout, "aws:vpc:SecurityGroupIngressRule", "fixture-anon-peer-203-0-113-99-32")).toContain("from 203.0.113.99/32");
    expect(stdout).not.toContain("198-51-100-0-24");
    expect(row(stdout, "aws:lb:Listener", "fixture-anon-tls")).toContain(`TLS/443  ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09  cert=${arn}`);
    expect(stdout).not.toContain("fixture-anon-certificates");
    expect(row(stdout, "aws:ecs:TaskDefinition", "fixture-anon")).toContain("UPLOAD_PART_CONCURRENCY=11");
    // (1024 - 256 - 160) / (8 x 13) = 5
    expect(row(stdout, "aws:ecs:TaskDefinition", "fixture-anon")).toContain("MAX_INSTANCES_IN_FLIGHT=5");
  });

  it("finds Pulumi.<stack>.yaml by name beside the nearest Pulumi.yaml, as the Pulumi CLI does", async () => {
    const project = fs.mkdtempSync(path.join(tmp, "project-"));
    fs.copyFileSync(path.join(REPO, "Pulumi.yaml"), path.join(project, "Pulumi.yaml"));
    variant(tmp, ANONYMOUS, "qa", (doc) => (doc.config["stowrs-to-s3:appName"] = "stowrs-qa"), project);
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

  it("--policies checks the plan against the policy pack with the stack's pack configuration, or the defaults", async () => {
    // Named prod: stacks/policy/config/prod.json makes no-world-ingress mandatory.
    const open = await main([variant(tmp, CLIENTAUTH, "prod", (doc) => (doc.config["stowrs-to-s3:allowedPeers"] = ["0.0.0.0/0"]))], REPO);
    expect(open.code).toBe(0);
    const prod = await main([variant(tmp, CLIENTAUTH, "prod", (doc) => (doc.config["stowrs-to-s3:allowedPeers"] = ["0.0.0.0/0"])), "--policies"], REPO);
    expect(prod.code).toBe(1);
    expect(prod.stdout).toContain("[mandatory] no-world-ingress: fixture-mtls-peer-0-0-0-0-0: ingress rule admits 0.0.0.0/0 on port 443");
    // A stack without a pack configuration of its own gets the pack's defaults (advisory there).
    const other = await main([variant(tmp, CLIENTAUTH, "no-pack-config-0x5f", (doc) => (doc.config["stowrs-to-s3:allowedPeers"] = ["0.0.0.0/0"])), "--policies"], REPO);
    expect(other.code).toBe(0);
    expect(other.stdout).toContain("[advisory] no-world-ingress: fixture-mtls-peer-0-0-0-0-0");
    const fixture = await main([CLIENTAUTH, "--policies"], REPO);
    expect(fixture.code).toBe(0);
    expect(fixture.stdout).toContain("Policies (stacks/policy): no violations");
  });
});

describe("plan with the deployed stack's outputs", () => {
  it("--outputs: warns when the generated certificate in the deployed stack is within 30 days of renewal", async () => {
    const dir = fs.mkdtempSync(path.join(tmp, "outputs-"));
    // Valid 45 days: the first pulumi up in its last 30 is 15 days away.
    execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", "k.pem", "-out", "c.pem", "-days", "45", "-subj", "/CN=generated"], { cwd: dir, stdio: "ignore" });
    const outputs = (source: string) => {
      const file = path.join(dir, `${source.replace(/ /g, "-")}.json`);
      fs.writeFileSync(file, JSON.stringify({ certificateSource: source, serverCertificate: fs.readFileSync(path.join(dir, "c.pem"), "utf8") }));
      return file;
    };
    const due = await main([ANONYMOUS, "--outputs", outputs("FROMS3 generated certificate")], REPO);
    expect(due.code).toBe(0);
    expect(due.stdout).toMatch(/\n {2}certificate: the generated server certificate \(valid until \S+\) is replaced by the first pulumi up from \d{4}-\d\d-\d\d on; clients that pin it must then take the new one/);
    // Not yet due 100 days earlier; and a certificate from config is the stack file's own business.
    const early = await main([ANONYMOUS, "--outputs", outputs("FROMS3 generated certificate")], REPO, new Date(Date.now() - 100 * 24 * 3600 * 1000));
    expect(early.stdout).not.toContain("certificate: the generated");
    const configured = await main([ANONYMOUS, "--outputs", outputs("FROMS3 certificate from config")], REPO);
    expect(configured.stdout).not.toContain("certificate: the generated");
    const missing = await main([ANONYMOUS, "--outputs", path.join(dir, "none.json")], REPO);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^--outputs .*none\.json: ENOENT/);
  });
});

describe("plan of a stack file with secrets", () => {
  const pki = makePki(fs.mkdtempSync(path.join(tmp, "pki-")));

  it.each([
    ["the passphrase provider", { passphrase: "plan never asks for it" }],
    ["Pulumi Cloud", "pulumi-cloud" as const],
  ])("takes serverKey encrypted by %s as opaque: --json and the table show [secret] and never the key", async (_label, secrets) => {
    const file = variant(tmp, CLIENTAUTH, "prod", (doc) => withOwnCertificates(doc, pki, secrets));
    expect(fs.readFileSync(file, "utf8")).toMatch(/serverKey:\n\s+secure: /);
    const json = await cli([file, "--json"]);
    expect(json.code, json.stderr).toBe(0);
    expect(json.stdout).not.toContain("PRIVATE KEY");
    const key = JSON.parse(json.stdout).find((r: any) => r.name === "fixture-mtls-certificate-key");
    expect(key.inputs.content).toBe("[secret]");
    const crt = JSON.parse(json.stdout).find((r: any) => r.name === "fixture-mtls-certificate-crt");
    expect(crt.inputs.content).toBe(pki.server.certPem);
    const table = await main([file], REPO);
    expect(table.code).toBe(0);
    expect(table.stdout).not.toContain("PRIVATE KEY");
    expect(table.stdout).toContain("certificateSource: FROMS3 certificate from config");
    expect(row(table.stdout, "aws:s3:BucketObjectv2", "fixture-mtls-certificate-key")).toContain("content=[secret]");
  });

  it("refuses a plain-text serverKey with one message, and a secret where plain text is needed with one message", async () => {
    const plain = variant(tmp, CLIENTAUTH, "plain-key", (doc) => {
      withOwnCertificates(doc, pki, "pulumi-cloud");
      doc.config["stowrs-to-s3:certificate"].serverKey = pki.server.keyPem;
    });
    const refused = await main([plain], REPO);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toBe('stowrs-to-s3:certificate: serverKey must be stored encrypted: pulumi config set --secret --path stowrs-to-s3:certificate.serverKey -- "$(cat server.key)"\n');
    const secretName = await main([stackFile("secret-name", (c) => (c["stowrs-to-s3:appName"] = { secure: "v1:abc" }))], REPO);
    expect(secretName.code).toBe(1);
    expect(secretName.stderr.trim().split("\n")).toEqual([expect.stringMatching(/^stowrs-to-s3:appName: is stored as a secret \(secure:\), but the stack needs it in plain text/)]);
  });
});

describe("the stack files of one directory", () => {
  function pair(a: (doc: StackDoc) => void, b: (doc: StackDoc) => void): { dir: string; first: string; second: string } {
    const dir = fs.mkdtempSync(path.join(tmp, "set-"));
    return { dir, first: variant(tmp, ANONYMOUS, "first", a, dir), second: variant(tmp, ANONYMOUS, "second", b, dir) };
  }

  it("fail the plan when two share an appName, naming both files", async () => {
    const { first, second } = pair(() => {}, () => {});
    for (const [target, other] of [[first, second], [second, first]]) {
      const { code, stdout, stderr } = await main([target], REPO);
      expect(code).toBe(1);
      expect(stdout).toBe("");
      expect(stderr).toContain(`stowrs-to-s3:appName: "fixture-anon" is the appName of both ${target} and ${other}: their resources`);
    }
  });

  it("left without appName, are named after their stacks and do not collide; overlapping vpcCidrs are a warning", async () => {
    const unnamed = (doc: StackDoc) => {
      delete doc.config["stowrs-to-s3:appName"];
      delete doc.config["stowrs-to-s3:dicomBucket"];
    };
    const { first, second } = pair(unnamed, unnamed);
    const { code, stdout } = await main([first], REPO);
    expect(code).toBe(0);
    expect(row(stdout, "aws:ecs:Service", "stowrs-first")).toContain("desired=1");
    expect(stdout).toContain(`stowrs-to-s3:vpcCidr: 10.40.0.0/16 overlaps 10.40.0.0/16 of ${second}: the two VPCs could never be peered`);
    const json = await cli([second, "--json"]);
    expect(json.code).toBe(0);
    expect(json.stderr).toContain(`warning: stowrs-to-s3:vpcCidr: 10.40.0.0/16 overlaps 10.40.0.0/16 of ${first}`);
  });

  it("a copy of a stack file with only appName and vpcCidr changed plans beside it, without warnings of its own", async () => {
    for (const source of [...listStacks(REPO).map((s) => path.join(REPO, `Pulumi.${s}.yaml`)), ANONYMOUS]) {
      const dir = fs.mkdtempSync(path.join(tmp, "copy-"));
      const doc = parse(fs.readFileSync(source, "utf8")) as StackDoc;
      const original = path.join(dir, path.basename(source));
      fs.writeFileSync(original, stringify(doc));
      doc.config["stowrs-to-s3:appName"] = "stowrs-staging";
      doc.config["stowrs-to-s3:vpcCidr"] = String(doc.config["stowrs-to-s3:vpcCidr"]).startsWith("10.199.") ? "10.198.0.0/16" : "10.199.0.0/16";
      const staging = path.join(dir, "Pulumi.staging.yaml");
      fs.writeFileSync(staging, stringify(doc));
      const before = await main([original], REPO);
      const { code, stdout, stderr } = await main([staging], REPO);
      expect(code, `${source}: ${stderr}`).toBe(0);
      expect(stdout).toMatch(/^Stack staging \(/);
      expect(row(stdout, "aws:ecs:Cluster", "stowrs-staging")).toBeDefined();
      // The copy's warnings are the original's (placeholders), nothing about the two of them.
      const warnings = (out: string) => out.slice(out.indexOf("\nWarnings")).split("\n").filter((l) => l.startsWith("  stowrs-to-s3:")).map((l) => l.split(":")[1]);
      expect(warnings(stdout)).toEqual(warnings(before.stdout));
    }
  });
});

describe("fixtures", () => {
  it("are not named like a stack an operator would add", () => {
    const names = listStacks(FIXTURES_DIR);
    expect(names.length).toBeGreaterThan(1);
    for (const n of names) expect(n).toMatch(/^fixture-/);
  });
});
