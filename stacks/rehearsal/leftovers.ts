// What a rehearsal leaves running: nothing. Every process it started (the app, nginx's entrypoint,
// master and workers, the S3 stand-in, health checks) is a descendant of the rehearsal's own
// process, so after the rehearsal's own stops have run, whatever is still below it is ended here,
// and the output says which. The same sweep ends everything on Ctrl-C, SIGTERM and the overall
// deadline. (A SIGKILL of the rehearsal itself cannot be caught; its children then outlive it.)
import { readFileSync } from "node:fs";
import { descendants, isRunning } from "../../app/test/support/process-tree";

/** How long a process gets after SIGTERM before SIGKILL. */
const GRACE_MS = 10_000;

function commandOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean).slice(0, 3).join(" ");
  } catch {
    return "?";
  }
}

/** esbuild's long-lived service process, as tsx starts it (`esbuild --service=<version> --ping`). */
export function isLoaderService(command: string): boolean {
  return /(^|\/)esbuild --service=/.test(command);
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    /* gone meanwhile */
  }
}

/**
 * Ends every process still below this one: SIGTERM, then SIGKILL for those that did not exit
 * within the grace period. Returns one line for the output.
 */
export async function endLeftovers(root = process.pid, graceMs = GRACE_MS): Promise<string> {
  // tsx, which loads the rehearsal's TypeScript, keeps an esbuild service below it for as long as
  // the process lives: that one is the loader's, not the rehearsal's, and goes with it.
  const left = descendants(root).filter((pid) => isRunning(pid) && !isLoaderService(commandOf(pid)));
  if (left.length === 0) return "every process the rehearsal started has ended";
  const named = left.map((pid) => `${pid} (${commandOf(pid)})`);
  for (const pid of left) signal(pid, "SIGTERM");
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline && left.some(isRunning)) await new Promise((r) => setTimeout(r, 100));
  const killed = left.filter(isRunning);
  for (const pid of killed) signal(pid, "SIGKILL");
  return `ended ${left.length} process(es) still running: ${named.join(", ")}${killed.length ? `; ${killed.length} needed SIGKILL` : ""}`;
}
