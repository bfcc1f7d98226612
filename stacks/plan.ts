// Offline plan: runs the program for one stack file under Pulumi's runtime mocks (no
// cloud account, no Pulumi CLI) and prints what it would create.
//
//   npm run plan -- <stack | path/to/Pulumi.<stack>.yaml> [--json] [--policies] [--write-snapshot]
import * as fs from "node:fs";
import { ConfigError } from "./config";
import { recordStack, type RecordedStack } from "./offline/record";
import { readStackFile, StackFileError } from "./offline/stack-file";
import { dependsOnNames, formatSnapshot, redactSecrets, snapshotPath, toSnapshot } from "./offline/snapshot";
import { shortType, summarize } from "./offline/summary";
import { evaluatePolicies, policyConfigFor } from "./policy/evaluate";
import { policies } from "./policy/rules";

const USAGE = "usage: npm run plan -- <stack | path/to/Pulumi.<stack>.yaml> [--json] [--policies] [--write-snapshot]";

export async function main(argv: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const flags = new Set(argv.filter((a) => a.startsWith("--")));
  const targets = argv.filter((a) => !a.startsWith("--"));
  const unknown = [...flags].filter((f) => !["--json", "--policies", "--write-snapshot", "--help"].includes(f));
  if (flags.has("--help")) return { code: 0, stdout: `${USAGE}\n`, stderr: "" };
  if (targets.length !== 1 || unknown.length > 0) {
    return { code: 2, stdout: "", stderr: `${unknown.map((f) => `unknown option ${f}\n`).join("")}${USAGE}\n` };
  }

  let recorded: RecordedStack;
  let file: string;
  const warnings: string[] = [];
  try {
    const stackFile = readStackFile(targets[0], cwd);
    file = stackFile.file;
    // A plan is a preview: placeholders are warned about here and refused by `pulumi up`.
    recorded = await recordStack(stackFile.stack, stackFile.config, undefined, { projectDir: stackFile.projectDir, warnings });
  } catch (err) {
    if (err instanceof ConfigError) {
      return { code: 1, stdout: "", stderr: `${err.problems.join("\n")}\n` };
    }
    if (err instanceof StackFileError) return { code: 1, stdout: "", stderr: `${err.message}\n` };
    return { code: 1, stdout: "", stderr: `the program failed: ${(err as Error)?.stack ?? String(err)}\n` };
  }

  if (flags.has("--write-snapshot")) {
    const target = snapshotPath(recorded.stack);
    fs.writeFileSync(target, formatSnapshot(toSnapshot(recorded)));
    return { code: 0, stdout: `wrote ${target}\n`, stderr: "" };
  }
  if (flags.has("--json")) {
    // dependsOn: the explicit ordering the program asks for (names), beside the inputs that imply the rest.
    const list = recorded.resources.map((r) => ({ type: r.type, name: r.name, provider: r.provider, dependsOn: dependsOnNames(r), inputs: redactSecrets(r) }));
    return { code: 0, stdout: `${JSON.stringify(list, null, 2)}\n`, stderr: warnings.map((w) => `warning: ${w}\n`).join("") };
  }
  let table = formatTable(recorded, file, warnings);
  if (flags.has("--policies")) {
    // Same rules and per-stack pack configuration as `pulumi preview --policy-pack stacks/policy` in CI.
    const violations = await evaluatePolicies(recorded.resources, policies, policyConfigFor(recorded.stack));
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
