// What the scheduled drift check found for one stack, from the JSON of
// `pulumi refresh --preview-only --expect-no-changes --json`:
//
//   node --import tsx stacks/drift-report.ts <stack> <refresh.json> <exit status of pulumi> <out dir>
//
// writes <out dir>/<stack>.status ("drift" or "clean") and, on drift, <out dir>/<stack>.md,
// the issue body: each resource that differs from the stack's state, by name, type, change
// and the names of the properties that differ (never their values: state can hold secrets).
// Exit 1 when pulumi failed and its output shows no change either, i.e. the check itself broke
// (credentials, backend, plugins): that is a red run, not a drift issue.
import * as fs from "node:fs";
import * as path from "node:path";

export interface DriftedResource {
  name: string;
  type: string;
  urn: string;
  /** The change the refresh would record: update (properties differ) or delete (gone). */
  op: string;
  /** Names of the properties that differ, when pulumi names them. */
  properties: string[];
}

export interface RefreshReport {
  /** The output held JSON this reader understood. */
  parsed: boolean;
  resources: DriftedResource[];
  /** Counts by change from pulumi's summary, other than "same". */
  changes: Record<string, number>;
}

// Step kinds that change nothing by themselves.
const NO_CHANGE = new Set(["same", "read", "refresh"]);

/** `urn:pulumi:<stack>::<project>::<parent$type>::<name>` -> its type and name. */
export function splitUrn(urn: string): { type: string; name: string } {
  const parts = urn.split("::");
  const name = parts.length >= 4 ? parts.slice(3).join("::") : urn;
  const chain = parts[2] ?? "";
  return { type: chain.split("$").pop() ?? chain, name };
}

type Json = Record<string, any>;

function propertyNames(step: Json): string[] {
  const names = new Set<string>([...(step.diffReasons ?? step.diffs ?? []), ...Object.keys(step.detailedDiff ?? {})]);
  return [...names].map((n) => String(n)).sort();
}

function outputsDiffer(step: Json): boolean {
  const before = step.oldState?.outputs ?? step.old?.outputs;
  const after = step.newState?.outputs ?? step.new?.outputs;
  return before !== undefined && after !== undefined && JSON.stringify(before) !== JSON.stringify(after);
}

/**
 * One preview step -> a drifted resource, or undefined when it changes nothing. A refresh step
 * counts when pulumi names differing properties, when the outputs it read differ from the
 * state's, or when the resource is gone (no new state).
 */
function fromStep(step: Json): DriftedResource | undefined {
  const urn = String(step.urn ?? "");
  if (urn === "" || /::pulumi:pulumi:Stack::/.test(urn) || urn.includes("::pulumi:providers:")) return undefined;
  let op = String(step.op ?? "");
  const properties = propertyNames(step);
  if (op === "refresh") {
    const hasOld = (step.oldState ?? step.old) !== undefined;
    const hasNew = (step.newState ?? step.new) !== undefined;
    if (hasOld && !hasNew) op = "delete";
    else if (properties.length > 0 || outputsDiffer(step)) op = "update";
  }
  if (NO_CHANGE.has(op)) return undefined;
  return { ...splitUrn(urn), urn, op, properties };
}

/**
 * Reads either form pulumi prints with --json: one preview digest (`{ steps, changeSummary }`)
 * or a stream of engine events, one JSON object a line (`resourcePreEvent.metadata`).
 */
export function parseRefreshOutput(text: string): RefreshReport {
  const report: RefreshReport = { parsed: false, resources: [], changes: {} };
  const steps: Json[] = [];
  const addSummary = (summary: Json | undefined) => {
    for (const [op, n] of Object.entries(summary ?? {})) if (op !== "same" && typeof n === "number" && n > 0) report.changes[op] = n;
  };
  let digest: Json | undefined;
  try {
    digest = JSON.parse(text);
  } catch {
    digest = undefined;
  }
  if (digest && typeof digest === "object" && !Array.isArray(digest) && ("steps" in digest || "changeSummary" in digest)) {
    report.parsed = true;
    steps.push(...(digest.steps ?? []));
    addSummary(digest.changeSummary);
  } else {
    for (const line of text.split("\n")) {
      let event: Json;
      try {
        event = JSON.parse(line);
      } catch {
        continue;
      }
      if (event?.resourcePreEvent?.metadata) steps.push(event.resourcePreEvent.metadata);
      if (event?.summaryEvent) addSummary(event.summaryEvent.resourceChanges);
      if (event?.resourcePreEvent || event?.summaryEvent) report.parsed = true;
    }
  }
  const seen = new Set<string>();
  for (const step of steps) {
    const r = fromStep(step);
    if (r && !seen.has(r.urn)) {
      seen.add(r.urn);
      report.resources.push(r);
    }
  }
  report.resources.sort((a, b) => a.type.localeCompare(b.type) || a.name.localeCompare(b.name));
  return report;
}

export function hasDrift(report: RefreshReport): boolean {
  return report.resources.length > 0 || Object.keys(report.changes).length > 0;
}

/** The issue body; the first line is what a reader of the issue list sees. */
export function driftBody(stack: string, report: RefreshReport, context: { runUrl?: string; date: string }): string {
  const escape = (s: string) => s.replace(/\|/g, "\\|");
  const rows = report.resources.map((r) => `| ${escape(r.name)} | \`${escape(r.type)}\` | ${r.op} | ${r.properties.map(escape).join(", ") || "-"} |`);
  const counted = Object.entries(report.changes).map(([op, n]) => `${op} ${n}`).join(", ");
  return [
    `Stack **${stack}** differs from its Pulumi state: ${report.resources.length} resource(s)${counted ? ` (pulumi's count: ${counted})` : ""}.`,
    "",
    ...(rows.length ? ["| resource | type | change | properties that differ |", "|---|---|---|---|", ...rows] : ["pulumi counted changes but named no resource; see the run's log."]),
    "",
    "Something changed these resources outside Pulumi (console, CLI, another tool), or they are gone.",
    `Either put the stack's settings back with \`pulumi up\` (the deploy workflow), or accept the change with`,
    "`pulumi refresh` and change the program and stack file to match. This issue is updated by each",
    "scheduled check while the drift lasts and closed by the first check that finds none.",
    "",
    `Found by \`pulumi refresh --preview-only\` on ${context.date}${context.runUrl ? ` in ${context.runUrl}` : ""}.`,
    "",
  ].join("\n");
}

export function main(argv: string[], env: Record<string, string | undefined> = process.env): { code: number; stdout: string; stderr: string } {
  const [stack, file, exitText, outDir] = argv;
  if (argv.length !== 4 || !/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(stack) || !/^\d+$/.test(exitText)) {
    return { code: 2, stdout: "", stderr: "usage: drift-report <stack> <refresh.json> <exit status of pulumi> <out dir>\n" };
  }
  const text = fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "";
  const report = parseRefreshOutput(text);
  const pulumiFailed = exitText !== "0";
  fs.mkdirSync(outDir, { recursive: true });
  if (hasDrift(report)) {
    const runUrl = env.GITHUB_RUN_ID ? `${env.GITHUB_SERVER_URL ?? "https://github.com"}/${env.GITHUB_REPOSITORY}/actions/runs/${env.GITHUB_RUN_ID}` : undefined;
    fs.writeFileSync(path.join(outDir, `${stack}.md`), driftBody(stack, report, { runUrl, date: new Date().toISOString().slice(0, 10) }));
    fs.writeFileSync(path.join(outDir, `${stack}.status`), "drift\n");
    return { code: 0, stdout: `${stack}: drift in ${report.resources.length} resource(s): ${report.resources.map((r) => `${r.name} (${r.op})`).join(", ")}\n`, stderr: "" };
  }
  if (pulumiFailed) {
    return { code: 1, stdout: "", stderr: `${stack}: pulumi refresh failed (exit ${exitText}) and its output shows no change: the check itself failed; see its log above\n` };
  }
  if (!report.parsed) {
    return { code: 1, stdout: "", stderr: `${stack}: pulumi's output is not the JSON this report reads (${file}); nothing decided\n` };
  }
  fs.writeFileSync(path.join(outDir, `${stack}.status`), "clean\n");
  return { code: 0, stdout: `${stack}: no drift\n`, stderr: "" };
}

if (require.main === module) {
  const { code, stdout, stderr } = main(process.argv.slice(2));
  process.stdout.write(stdout);
  process.stderr.write(stderr);
  process.exitCode = code;
}
