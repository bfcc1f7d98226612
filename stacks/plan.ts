// Offline plan: runs the program for one stack file under Pulumi's runtime mocks (no
// cloud account, no Pulumi CLI) and prints what it would create.
//
//   npm run plan -- <stack | path/to/Pulumi.<stack>.yaml> [--json] [--policies] [--write-snapshot] [--outputs file]
import * as fs from "node:fs";
import * as path from "node:path";
import { deployedCertificateNotice, readOutputsFile } from "./certificate-renewal";
import { GENERATED_RENEWAL_HOURS } from "./certificates";
import { takeOption } from "./cli-options";
import { ConfigError } from "./config";
import { recordStackFile, type RecordedStack } from "./offline/record";
import { readStackFile, StackFileError } from "./offline/stack-file";
import { checkStackSet } from "./offline/stack-set";
import { dependsOnNames, formatSnapshot, redactSecrets, SNAPSHOT_DIR, snapshotPath, toSnapshot } from "./offline/snapshot";
import { shortType, summarize } from "./offline/summary";
import { evaluatePolicies, policyConfigFor } from "./policy/evaluate";
import { policies } from "./policy/rules";

const USAGE = "usage: npm run plan -- <stack | path/to/Pulumi.<stack>.yaml> [--json] [--policies] [--write-snapshot] [--outputs <pulumi stack output --json file>]";

export async function main(argv: string[], cwd: string, now = new Date()): Promise<{ code: number; stdout: string; stderr: string }> {
  argv = [...argv];
  // The deployed stack's outputs: the generated certificate's dates are known only there.
  const outputsFile = takeOption(argv, "--outputs");
  const flags = new Set(argv.filter((a) => a.startsWith("--")));
  const targets = argv.filter((a) => !a.startsWith("--"));
  const unknown = [...flags].filter((f) => !["--json", "--policies", "--write-snapshot", "--help"].includes(f));
  if (flags.has("--help")) return { code: 0, stdout: `${USAGE}\n`, stderr: "" };
  if (targets.length !== 1 || unknown.length > 0) {
    return { code: 2, stdout: "", stderr: `${unknown.map((f) => `unknown option ${f}\n`).join("")}${USAGE}\n` };
  }

  let recorded: RecordedStack | undefined;
  let file: string;
  const warnings: string[] = [];
  try {
    const stackFile = readStackFile(targets[0], cwd);
    file = stackFile.file;
    // Secrets stay encrypted: the plan shows them as [secret] and never needs their values.
    const set = checkStackSet(stackFile);
    let problems = set.problems;
    try {
      // A plan is a preview: placeholders are warned about here and refused by `pulumi up`.
      recorded = await recordStackFile(stackFile, { warnings });
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      problems = [...err.problems, ...problems];
    }
    if (problems.length > 0 || !recorded) return { code: 1, stdout: "", stderr: `${problems.join("\n")}\n` };
    warnings.push(...set.warnings);
    if (outputsFile !== undefined) {
      const outputs = readOutputsFile(path.resolve(cwd, outputsFile));
      if (typeof outputs === "string") return { code: 2, stdout: "", stderr: `--outputs ${outputs}\n${USAGE}\n` };
      const notice = deployedCertificateNotice(outputs, now, GENERATED_RENEWAL_HOURS);
      if (notice) warnings.push(notice);
    }
  } catch (err) {
    if (err instanceof StackFileError) return { code: 1, stdout: "", stderr: `${err.message}\n` };
    return { code: 1, stdout: "", stderr: `the program failed: ${(err as Error)?.stack ?? String(err)}\n` };
  }

  const plan: RecordedStack = recorded;
  if (flags.has("--write-snapshot")) {
    const projectDir = path.resolve(SNAPSHOT_DIR, "..", "..");
    if (path.dirname(file) !== projectDir) {
      return { code: 1, stdout: "", stderr: `${file}: snapshots are kept for the stack files beside ${path.join(projectDir, "Pulumi.yaml")} only\n` };
    }
    const target = snapshotPath(plan.stack);
    fs.writeFileSync(target, formatSnapshot(toSnapshot(plan)));
    return { code: 0, stdout: `wrote ${target}\n`, stderr: "" };
  }
  if (flags.has("--json")) {
    // dependsOn: the explicit ordering the program asks for (names), beside the inputs that imply the rest.
    const list = plan.resources.map((r) => ({ type: r.type, name: r.name, provider: r.provider, dependsOn: dependsOnNames(r), inputs: redactSecrets(r) }));
    return { code: 0, stdout: `${JSON.stringify(list, null, 2)}\n`, stderr: warnings.map((w) => `warning: ${w}\n`).join("") };
  }
  let table = formatTable(plan, file, warnings);
  if (flags.has("--policies")) {
    // Same rules and per-stack pack configuration as `pulumi preview --policy-pack stacks/policy` in CI.
    const violations = await evaluatePolicies(plan.resources, policies, policyConfigFor(plan.stack));
    table += `\nPolicies (stacks/policy): ${violations.length === 0 ? "no violations" : `${violations.length} violation(s)`}\n`;
    table += violations.map((v) => `  [${v.enforcementLevel}] ${v.policy}: ${v.resource ? `${v.resource}: ` : ""}${v.message}\n`).join("");
    if (violations.some((v) => v.enforcementLevel === "mandatory")) return { code: 1, stdout: table, stderr: "" };
  }
  return { code: 0, stdout: table, stderr: "" };
}

export function formatTable(recorded: RecordedStack, file: string, warnings: string[] = []): string {
  const rows = recorded.resources.map((r) => [shortType(r.type), r.name, summarize(r)]);
  const header = ["TYPE", "NAME", "KEY SETTINGS"];
  const widths = [0, 1].map((col) => Math.max(header[col].length, ...rows.map((row) => row[col].length)));
  const line = (row: string[]) => `${row[0].padEnd(widths[0])}  ${row[1].padEnd(widths[1])}  ${row[2]}`.trimEnd();
  const out = [
    `Stack ${recorded.stack} (${file}): ${recorded.resources.length} resources, planned offline with mocked AWS values`,
    "",
    line(header),
    line(header.map((h, i) => "-".repeat(i < 2 ? widths[i] : h.length))),
    ...rows.map(line),
    "",
    "Outputs:",
    ...Object.entries(recorded.outputs).map(([k, v]) => `  ${k}: ${outputText(v)}`),
    ...(warnings.length > 0 ? ["", `Warnings (${warnings.length}):`, ...warnings.map((w) => `  ${w}`)] : []),
  ];
  return `${out.join("\n")}\n`;
}

/** One line per output; a PEM block is shown by its first line. */
function outputText(v: unknown): string {
  if (typeof v !== "string") return JSON.stringify(v);
  const pem = /^-----BEGIN ([A-Z ]+)-----/.exec(v);
  return pem ? `(PEM ${pem[1].toLowerCase()}, ${v.length} characters)` : v;
}

if (require.main === module) {
  // npm runs scripts from the package root; INIT_CWD is where the user typed the command.
  main(process.argv.slice(2), process.env.INIT_CWD ?? process.cwd()).then(({ code, stdout, stderr }) => {
    process.stdout.on("error", (err: NodeJS.ErrnoException) => {
      if (err.code === "EPIPE") process.exit(code);
    });
    if (stderr) process.stderr.write(stderr);
    process.stdout.write(stdout, () => process.exit(code));
  });
}
