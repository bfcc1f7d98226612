// Console output of the benchmarks: the settings, a table of figures, the verdicts, one JSON line.

export interface Row {
  figure: string;
  value: string;
  target?: string;
  /** undefined: informational, no target. */
  pass?: boolean;
}

export interface Verdict {
  target: string;
  pass: boolean;
}

export function formatTable(rows: Row[]): string {
  const cells = rows.map((r) => [r.figure, r.value, r.target ?? "", r.pass === undefined ? "" : r.pass ? "PASS" : "FAIL"]);
  const head = ["figure", "value", "target", ""];
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) => c.map((s, i) => (i === 1 ? s.padStart(widths[i]!) : s.padEnd(widths[i]!))).join("  ").trimEnd();
  return [line(head), widths.map((w) => "-".repeat(w)).join("  "), ...cells.map(line)].join("\n");
}

export function formatVerdicts(verdicts: Verdict[]): string {
  return verdicts.map((v) => `${v.pass ? "PASS" : "FAIL"}  ${v.target}`).join("\n");
}

export function formatSettings(command: string, settings: Record<string, string | number | boolean>): string {
  const width = Math.max(...Object.keys(settings).map((k) => k.length));
  return [`command: ${command}`, ...Object.entries(settings).map(([k, v]) => `  ${k.padEnd(width)}  ${v}`)].join("\n");
}

/** The whole report: settings, table, notes (if any), verdicts, and the result as the last line (JSON). */
export function printReport(
  out: (s: string) => void,
  command: string,
  result: { settings: Record<string, string | number | boolean>; targets: Record<string, Verdict | undefined> },
  rows: Row[],
  notes?: string,
): void {
  out(formatSettings(command, result.settings));
  out("");
  out(formatTable(rows));
  out("");
  if (notes) {
    out(notes);
    out("");
  }
  out(formatVerdicts(Object.values(result.targets).filter((v): v is Verdict => v !== undefined)));
  out(JSON.stringify(result));
}
