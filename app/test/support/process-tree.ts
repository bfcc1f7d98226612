// Test harness: which processes exist (Linux /proc), to prove that a stopped service left nothing
// behind: its children, an embedded store started for it, its ports.
import { readdirSync, readFileSync } from "node:fs";
import { connect } from "node:net";

/** Parent pid and state of a process; undefined when it no longer exists. */
function stat(pid: number): { ppid: number; state: string } | undefined {
  try {
    // The command name (2nd field) is in parentheses and may hold spaces: read after the last ")".
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    const [state, ppid] = text.slice(text.lastIndexOf(")") + 2).split(" ");
    return { ppid: Number(ppid), state: state! };
  } catch {
    return undefined;
  }
}

const pids = () => readdirSync("/proc").filter((d) => /^\d+$/.test(d)).map(Number);

/** Whether the process runs (a zombie, which only waits to be reaped, does not count). */
export function isRunning(pid: number): boolean {
  const s = stat(pid);
  return s !== undefined && s.state !== "Z";
}

/** Every process below `pid` (children, their children, ...). */
export function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const p of pids()) {
    const s = stat(p);
    if (s) children.set(s.ppid, [...(children.get(s.ppid) ?? []), p]);
  }
  const found: number[] = [];
  const queue = [pid];
  while (queue.length) for (const child of children.get(queue.shift()!) ?? []) found.push(child), queue.push(child);
  return found;
}

/** Running processes whose environment holds NAME=value (e.g. an embedded store's S3RVER_DIR). */
export function processesWithEnv(name: string, value: string): number[] {
  const wanted = `${name}=${value}`;
  return pids().filter((p) => {
    try {
      return isRunning(p) && readFileSync(`/proc/${p}/environ`, "latin1").split("\0").includes(wanted);
    } catch {
      return false;
    }
  });
}

/** Whether nothing listens on 127.0.0.1:port (a connection is refused). */
export function portClosed(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(false);
    });
    socket.once("error", (err: NodeJS.ErrnoException) => resolve(err.code === "ECONNREFUSED"));
  });
}
