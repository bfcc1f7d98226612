// Sums the phases .ci/run ran: each argument is "<label>=<report.json>", a vitest JSON report
// or a quick-start result (same counters). Prints one line per phase, then the plain last line
// "N passed, N failed" (", N skipped" when vitest skipped some). A phase whose report is
// missing or unreadable counts as one failure: it did not run to its end.
import fs from "node:fs";

let passed = 0;
let failed = 0;
let skipped = 0;
for (const arg of process.argv.slice(2)) {
  const at = arg.indexOf("=");
  const label = arg.slice(0, at);
  let r;
  try {
    r = JSON.parse(fs.readFileSync(arg.slice(at + 1), "utf8"));
  } catch {
    console.log(`${label}: no report (did not run to its end): 1 failed`);
    failed += 1;
    continue;
  }
  // A test file that fails to load counts as a failure even though it ran no test.
  const broken = (r.testResults || []).filter((f) => f.status === "failed" && (f.assertionResults || []).length === 0).length;
  const p = r.numPassedTests || 0;
  const f = (r.numFailedTests || 0) + broken;
  const s = (r.numPendingTests || 0) + (r.numTodoTests || 0);
  console.log(`${label}: ${p} passed, ${f} failed${s ? `, ${s} skipped` : ""}`);
  passed += p;
  failed += f;
  skipped += s;
}
console.log(`${passed} passed, ${failed} failed` + (skipped ? `, ${skipped} skipped` : ""));
