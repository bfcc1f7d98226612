// Memory of another process, read from /proc (Linux): the kernel's own high-water mark (VmHWM)
// catches peaks that sampling would miss.
import { readFileSync } from "node:fs";

export interface ProcessMemory {
  /** Peak resident set size since the process started, bytes. */
  peakRss: number;
  /** Resident set size now, bytes. */
  rss: number;
}

export function readProcessMemory(pid: number): ProcessMemory {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kib = (field: string) => {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status);
    if (!m) throw new Error(`/proc/${pid}/status has no ${field} line`);
    return Number(m[1]) * 1024;
  };
  return { peakRss: kib("VmHWM"), rss: kib("VmRSS") };
}
