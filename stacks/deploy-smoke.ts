// npm run deploy-smoke -- <stack> [--runner-cidr <a.b.c.d/32>] [npm run smoke options]
//
// The deploy workflow's smoke step. A CI runner is not among the stack's allowedPeers, so
// the load balancer's security group drops its connections. For the duration of the smoke
// this adds one ingress rule on 443 for the runner's own address (/32), runs `npm run smoke`
// through the public endpoint, and removes the rule again: after success, after failure, and
// on SIGINT/SIGTERM (a cancelled job). Rules an earlier run could not remove (its runner was
// killed) carry "deploy-smoke <time>" in their description and are removed by the next run
// once older than an hour.
//
// It reads the stack's outputs (`pulumi stack output --json`, or --outputs <file>): serviceUrl,
// region and nlbSecurityGroupId. The runner's address comes from --runner-cidr or
// SMOKE_RUNNER_CIDR, else from https://checkip.amazonaws.com (SMOKE_IP_URL). The rule is
// added and removed with the AWS CLI (`aws ec2 ...`), under the job's credentials.
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { takeOption } from "./cli-options";
import { parseArgs as parseSmokeArgs, smoke, type SmokeOptions } from "./smoke";

export const USAGE =
  "usage: npm run deploy-smoke -- <stack> [--runner-cidr <a.b.c.d/32>] [--outputs <outputs.json>] [--client-cert <pem> --client-key <pem>] [--token-file <file>] [--ca <pem>] [--server-name <host>]";

/** Marks the rules this script adds, so a later run can tell them from the stack's own. */
export const RULE_MARK = "deploy-smoke";
/** Older rules with the mark are left-overs of a killed run. */
export const STALE_AFTER_MS = 60 * 60 * 1000;
export const SMOKE_PORT = 443;

export interface DeploySmokeOptions {
  smoke: SmokeOptions;
  runnerCidr?: string;
  env: Record<string, string | undefined>;
  log?: (line: string) => void;
  /** Stands in for `npm run smoke` (tests of the other paths); the real one by default. */
  runSmoke?: (o: SmokeOptions) => Promise<{ code: number }>;
  /** Seconds to wait for the endpoint to accept TCP connections once the rule is in (SMOKE_REACH_SECONDS, default 180). */
  reachSeconds?: number;
  now?: () => Date;
}

class Stop extends Error {}

interface Rule {
  groupId: string;
  region: string;
  /** The rule's id; absent when the CLI's answer named none, then it is removed by its permissions. */
  ruleId?: string;
  permissions: string;
}

/**
 * Runs the smoke with the runner let in; returns the exit code. The rule is removed before
 * this returns, or the code is non-zero and the output says how to remove it.
 */
export async function deploySmoke(o: DeploySmokeOptions): Promise<number> {
  const log = o.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const now = o.now ?? (() => new Date());
  let added: Rule | undefined;
  let outputsDir: string | undefined;
  const removeAdded = (): boolean => {
    if (!added) return true;
    const rule = added;
    added = undefined;
    const which = rule.ruleId ? ["--security-group-rule-ids", rule.ruleId] : ["--ip-permissions", rule.permissions];
    const args = ["ec2", "revoke-security-group-ingress", "--region", rule.region, "--group-id", rule.groupId, ...which];
    try {
      aws(o.env, args);
      log(`deploy-smoke: removed ${rule.ruleId ?? "the rule"} from ${rule.groupId}`);
      return true;
    } catch (err) {
      const shown = args.map((a) => (a.startsWith("[") ? `'${a}'` : a)).join(" ");
      log(`deploy-smoke: FAILED to remove ${rule.ruleId ?? "the rule"} from ${rule.groupId}: ${(err as Error).message}; remove it yourself: aws ${shown}`);
      return false;
    }
  };
  // A cancelled job gets SIGINT (then SIGTERM): take the rule out before going.
  const onSignal = (signal: NodeJS.Signals) => {
    log(`deploy-smoke: ${signal}`);
    removeAdded();
    if (outputsDir) fs.rmSync(outputsDir, { recursive: true, force: true });
    process.exit(signal === "SIGINT" ? 130 : 143);
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  let code = 1;
  try {
    let smokeOptions: SmokeOptions = { ...o.smoke, env: o.smoke.env ?? o.env };
    if (!smokeOptions.outputsFile) {
      // Read once; the smoke gets the same outputs as a file.
      outputsDir = fs.mkdtempSync(path.join(os.tmpdir(), "deploy-smoke-"));
      const file = path.join(outputsDir, "outputs.json");
      fs.writeFileSync(file, stackOutputsText(smokeOptions.stack, o.env), { mode: 0o600 });
      smokeOptions = { ...smokeOptions, outputsFile: file };
    }
    const outputs = readOutputs(path.resolve(smokeOptions.cwd, smokeOptions.outputsFile!));
    const cidr = await runnerCidr(o);
    const groupId = outputs.nlbSecurityGroupId;
    const region = outputs.region;
    const endpoint = new URL(outputs.serviceUrl);

    removeStale(o, groupId, region, now(), log);
    const description = `${RULE_MARK} ${now().toISOString()} ${o.env.GITHUB_RUN_ID ? `run ${o.env.GITHUB_RUN_ID}` : `by ${os.hostname()}`}`;
    const permissions = [{ IpProtocol: "tcp", FromPort: SMOKE_PORT, ToPort: SMOKE_PORT, IpRanges: [{ CidrIp: cidr, Description: description }] }];
    let answer: string | undefined;
    try {
      answer = aws(o.env, [
        "ec2",
        "authorize-security-group-ingress",
        "--region",
        region,
        "--group-id",
        groupId,
        "--ip-permissions",
        JSON.stringify(permissions),
        "--output",
        "json",
      ]);
    } catch (err) {
      // The address already has a rule (an allowed peer, or a left-over): it can connect, and
      // that rule is not ours to remove.
      if (!/InvalidPermission\.Duplicate/.test((err as Error).message)) throw new Stop(`could not allow ${cidr} on ${groupId}: ${(err as Error).message}`);
      log(`deploy-smoke: ${cidr} already has a rule in ${groupId}; none added, none to remove`);
    }
    if (answer !== undefined) {
      const ruleId = parseJson(answer)?.SecurityGroupRules?.[0]?.SecurityGroupRuleId;
      added = { groupId, region, ruleId: typeof ruleId === "string" ? ruleId : undefined, permissions: JSON.stringify(permissions) };
      log(`deploy-smoke: allowed ${cidr} on ${SMOKE_PORT} in ${groupId}${added.ruleId ? ` (${added.ruleId})` : ""} for the smoke`);
    }

    const reachSeconds = o.reachSeconds ?? positive(o.env.SMOKE_REACH_SECONDS) ?? 180;
    const port = Number(endpoint.port || SMOKE_PORT);
    if (!(await reachable(endpoint.hostname, port, reachSeconds))) {
      throw new Stop(`${endpoint.hostname}:${port} accepted no connection within ${reachSeconds} s`);
    }
    code = (await (o.runSmoke ?? smoke)(smokeOptions)).code;
  } catch (err) {
    log(`deploy-smoke ${o.smoke.stack}: FAILED: ${err instanceof Stop ? err.message : ((err as Error)?.stack ?? String(err))}`);
    code = 1;
  } finally {
    if (!removeAdded()) code = code === 0 ? 1 : code;
    if (outputsDir) fs.rmSync(outputsDir, { recursive: true, force: true });
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
  return code;
}

/** Removes rules a killed run left behind (marked, older than STALE_AFTER_MS); the stack's own rules carry no mark. */
function removeStale(o: DeploySmokeOptions, groupId: string, region: string, now: Date, log: (line: string) => void): void {
  const text = aws(o.env, [
    "ec2",
    "describe-security-group-rules",
    "--region",
    region,
    "--filters",
    `Name=group-id,Values=${groupId}`,
    "--output",
    "json",
  ]);
  const rules: { SecurityGroupRuleId?: string; IsEgress?: boolean; Description?: string }[] = parseJson(text)?.SecurityGroupRules ?? [];
  const stale = rules.filter((r) => {
    const m = new RegExp(`^${RULE_MARK} (\\S+)`).exec(r.Description ?? "");
    const at = m ? Date.parse(m[1]) : NaN;
    return r.IsEgress === false && typeof r.SecurityGroupRuleId === "string" && !Number.isNaN(at) && now.getTime() - at > STALE_AFTER_MS;
  });
  if (stale.length === 0) return;
  const ids = stale.map((r) => r.SecurityGroupRuleId!);
  aws(o.env, ["ec2", "revoke-security-group-ingress", "--region", region, "--group-id", groupId, "--security-group-rule-ids", ...ids]);
  log(`deploy-smoke: removed ${ids.join(", ")} from ${groupId}, left by an earlier smoke run`);
}

/** The runner's address as a /32: given, or asked from the IP echo service. */
async function runnerCidr(o: DeploySmokeOptions): Promise<string> {
  const given = o.runnerCidr ?? o.env.SMOKE_RUNNER_CIDR;
  if (given !== undefined && given !== "") {
    const cidr = singleAddress(given);
    if (!cidr) throw new Stop(`the runner's address must be one IPv4 address (a.b.c.d or a.b.c.d/32), got "${given}"`);
    return cidr;
  }
  const url = o.env.SMOKE_IP_URL || "https://checkip.amazonaws.com";
  let text: string;
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
    text = (await res.text()).trim();
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
  } catch (err) {
    throw new Stop(`could not learn the runner's public address from ${url}: ${(err as Error).message} (give --runner-cidr)`);
  }
  const cidr = singleAddress(text);
  if (!cidr) throw new Stop(`${url} answered "${text.slice(0, 60)}", not an IPv4 address (give --runner-cidr)`);
  return cidr;
}

/** "a.b.c.d" or "a.b.c.d/32" as "a.b.c.d/32"; anything wider or malformed: undefined. */
export function singleAddress(text: string): string | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(\/32)?$/.exec(text.trim());
  if (!m || m.slice(1, 5).some((o) => Number(o) > 255 || (o.length > 1 && o.startsWith("0")))) return undefined;
  return `${m.slice(1, 5).join(".")}/32`;
}

interface Outputs {
  serviceUrl: string;
  region: string;
  nlbSecurityGroupId: string;
}

function readOutputs(file: string): Outputs {
  let outputs: Record<string, unknown>;
  try {
    outputs = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (err) {
    throw new Stop(`the stack outputs (${file}) are not readable JSON: ${(err as Error).message}`);
  }
  for (const key of ["serviceUrl", "region", "nlbSecurityGroupId"]) {
    if (typeof outputs[key] !== "string" || outputs[key] === "") {
      throw new Stop(`the stack outputs have no ${key} (a stack deployed before this output existed: run pulumi up first)`);
    }
  }
  return outputs as unknown as Outputs;
}

function stackOutputsText(stack: string, env: Record<string, string | undefined>): string {
  const r = spawnSync("pulumi", ["stack", "output", "--json", "--stack", stack], { cwd: path.resolve(__dirname, ".."), env, encoding: "utf8" });
  if (r.error || r.status !== 0) {
    throw new Stop(`pulumi stack output --json --stack ${stack} failed: ${(r.error?.message ?? r.stderr ?? "").trim().split("\n")[0]}`);
  }
  return r.stdout;
}

/** One AWS CLI call; its stdout, or an Error carrying its stderr. */
function aws(env: Record<string, string | undefined>, args: string[]): string {
  try {
    return execFileSync("aws", args, { env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`aws ${args.slice(0, 2).join(" ")}: ${(e.stderr || e.message).trim().split("\n").slice(-1)[0]}`);
  }
}

/** Waits until host:port accepts a TCP connection: the rule is in force and the name resolves. */
async function reachable(host: string, port: number, seconds: number): Promise<boolean> {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect({ host, port, timeout: 5000 });
      socket.once("connect", () => {
        socket.destroy();
        resolve(true);
      });
      socket.once("timeout", () => {
        socket.destroy();
        resolve(false);
      });
      socket.once("error", () => resolve(false));
    });
    if (ok) return true;
    if (Date.now() + 2000 > deadline) return false;
    await new Promise((r) => setTimeout(r, 2000));
  }
}

function parseJson(text: string): any {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function positive(text: string | undefined): number | undefined {
  const n = Number(text);
  return text !== undefined && Number.isFinite(n) && n > 0 ? n : undefined;
}

/** argv after `--`: the smoke's own arguments plus --runner-cidr. */
export function parseArgs(argv: string[], cwd: string): { smoke: SmokeOptions; runnerCidr?: string } | undefined {
  const args = [...argv];
  const runnerCidr = takeOption(args, "--runner-cidr");
  if (argv.includes("--runner-cidr") && runnerCidr === undefined) return undefined;
  const smokeOptions = parseSmokeArgs(args);
  if (!smokeOptions) return undefined;
  return { smoke: { ...smokeOptions, cwd }, runnerCidr };
}

if (require.main === module) {
  const cwd = process.env.INIT_CWD ?? process.cwd();
  const parsed = parseArgs(process.argv.slice(2), cwd);
  if (!parsed) {
    process.stderr.write(`${USAGE}\n`);
    process.exit(2);
  }
  deploySmoke({ ...parsed, env: process.env }).then((code) => process.stdout.write("", () => process.exit(code)));
}
