// `node --import tsx bench/cpu-profile-stages.ts FILE.cpuprofile [--instances N] [--from US --to US]`:
// a service's CPU profile (node --cpu-prof) summed by stage of the store path (HTTP, multipart,
// header, hash, S3 client, response, logging, metrics, ...), per instance when N is given, with
// the functions that used most CPU themselves. `npm run bench -- --profile-dir DIR` runs this on
// each profile it takes, limited to the measured window (warm-up and start-up left out).
import { parseArgs } from "node:util";
import { isMain } from "./lib/cli.js";
import { readProfile, STAGES, stagesOf, type StageBreakdown } from "./lib/profile-stages.js";

export function formatStages(b: StageBreakdown, instances?: number, top = 0): string {
  const rows = STAGES.filter((s) => b.stages[s] > 0).map((s) => {
    const ms = b.stages[s];
    const share = `${((100 * ms) / b.totalMs).toFixed(1)}%`;
    const per = instances ? `${((1000 * ms) / instances).toFixed(0)} us/instance` : "";
    return `  ${s.padEnd(24)} ${ms.toFixed(0).padStart(7)} ms  ${share.padStart(6)}  ${per}`;
  });
  const per = instances ? `  ${((1000 * b.totalMs) / instances).toFixed(0)} us/instance` : "";
  const lines = [...rows, `  ${"total (profiled thread)".padEnd(24)} ${b.totalMs.toFixed(0).padStart(7)} ms  100.0%${per}`];
  if (top > 0) {
    lines.push("  top functions (self time):");
    for (const t of b.top.slice(0, top)) lines.push(`    ${t.ms.toFixed(0).padStart(6)} ms  ${t.stage.padEnd(24)} ${t.fn}`);
  }
  return lines.join("\n");
}

if (isMain(import.meta.url)) {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { instances: { type: "string" }, from: { type: "string" }, to: { type: "string" }, top: { type: "string" } },
  });
  if (positionals.length === 0) {
    process.stderr.write("usage: node --import tsx bench/cpu-profile-stages.ts FILE.cpuprofile... [--instances N] [--from US --to US] [--top N]\n");
    process.exit(2);
  }
  const window = values.from && values.to ? ([Number(values.from), Number(values.to)] as [number, number]) : undefined;
  for (const file of positionals) {
    process.stdout.write(`${file}\n${formatStages(stagesOf(readProfile(file), window, 40), values.instances ? Number(values.instances) : undefined, Number(values.top ?? 25))}\n`);
  }
}
