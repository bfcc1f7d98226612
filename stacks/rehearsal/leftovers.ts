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

/** Processes below `root` that still run, the loader's own service left out. */
function running(root: number): number[] {
  return descendants(root).filter((pid) => isRunning(pid) && !isLoaderService(commandOf(pid)));
}

/**
 * Ends every process still below this one: SIGTERM, then SIGKILL for those that did not exit
 * within the grace period. The rehearsal may still be starting something meanwhile (an app
 * after the build it was waiting for), so it looks again until nothing is left or time is up.
 * Returns one line for the output.
 */
export async function endLeftovers(root = process.pid, graceMs = GRACE_MS): Promise<string> {
  const seen = new Map<number, string>();
  const deadline = Date.now() + graceMs;
  for (;;) {
    const left = running(root);
    for (const pid of left) {
      if (seen.has(pid)) continue;
      seen.set(pid, commandOf(pid));
      signal(pid, "SIGTERM");
    }
    if (left.length === 0 || Date.now() >= deadline) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const killed = running(root);
  for (const pid of killed) signal(pid, "SIGKILL");
  if (seen.size === 0) return "every process the rehearsal started has ended";
  const named = [...seen].map(([pid, command]) => `${pid} (${command})`);
  return `ended ${seen.size} process(es) still running: ${named.join(", ")}${killed.length ? `; ${killed.length} needed SIGKILL` : ""}`;
}

/** The last sweep, right before exiting: SIGKILL for anything started since. */
export function killLeftoversNow(root = process.pid): void {
  for (const pid of running(root)) signal(pid, "SIGKILL");
}
