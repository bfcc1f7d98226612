// CPU time used by processes (Linux /proc): shows which process a phase spends the machine's cores on.
import { readdirSync, readFileSync } from "node:fs";
import { descendants } from "../../app/test/support/process-tree.js";

/** Kernel clock ticks per second (USER_HZ); 100 on every mainstream Linux build. */
const TICKS_PER_SECOND = 100;

/** User + system CPU seconds a process has used so far. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the command name (which may contain spaces) start at state, field 3.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

/** This process's own CPU seconds (all threads). */
export function ownCpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/** Child processes of this process whose command line contains `needle`. */
export function childPidsMatching(needle: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === process.pid && readFileSync(`/proc/${entry}/cmdline`, "utf8").includes(needle)) pids.push(Number(entry));
    } catch {
      /* exited meanwhile */
    }
  }
  return pids;
}

/** CPU seconds per named process between start() and the returned stop(). */
export function cpuMeter(pids: Record<string, number | undefined>): () => Record<string, number> {
  const read = () => Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, pid === undefined ? ownCpuSeconds() : cpuSeconds(pid)]));
  const before = read();
  return () => {
    const after = read();
    return Object.fromEntries(Object.keys(after).map((k) => [k, Math.round((after[k]! - before[k]!) * 100) / 100]));
  };
}

/** Descendants of this process (any depth) whose command line starts with `prefix`, e.g. "nginx:" for nginx's master and workers. */
export function descendantPidsNamed(prefix: string, root = process.pid): number[] {
  return descendants(root).filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ").startsWith(prefix);
    } catch {
      return false; // exited meanwhile
    }
  });
}
