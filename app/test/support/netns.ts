// Test harness: a network namespace with nothing but loopback, for servers that cannot be told
// to bind 127.0.0.1 (Orthanc binds every interface). A scenario script runs inside it whole.
import { execFileSync, spawn } from "node:child_process";

export interface ScenarioRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface LoopbackNamespace {
  name: string;
  /** Addresses inside the namespace, e.g. ["127.0.0.1/8", "::1/128"]. */
  addresses(): string[];
  /** Runs `node --import tsx <script>` inside the namespace, killed after timeoutMs. */
  runScript(script: string, cwd: string, timeoutMs: number): Promise<ScenarioRun>;
  /** Kills whatever still runs inside, then deletes the namespace. */
  remove(): void;
}

const ip = (...args: string[]) => execFileSync("ip", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });

export function createLoopbackNamespace(name: string): LoopbackNamespace {
  ip("netns", "add", name);
  ip("netns", "exec", name, "ip", "link", "set", "lo", "up");
  return {
    name,
    addresses: () =>
      ip("netns", "exec", name, "ip", "-o", "addr", "show")
        .trim()
        .split("\n")
        .map((l) => l.split(/\s+/)[3])
        .sort(),
    runScript(script, cwd, timeoutMs) {
      return new Promise((resolve, reject) => {
        const child = spawn("ip", ["netns", "exec", name, process.execPath, "--import", "tsx", script], { cwd, stdio: ["ignore", "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d) => (stdout += d));
        child.stderr.on("data", (d) => (stderr += d));
        const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
        child.once("error", reject);
        child.once("exit", (code) => {
          clearTimeout(timer);
          resolve({ code, stdout, stderr });
        });
      });
    },
    remove() {
      // Anything still running in the namespace was started by the scenario.
      let leftovers: number[] = [];
      try {
        leftovers = ip("netns", "pids", name).split("\n").filter(Boolean).map(Number);
      } catch {
        /* namespace never created */
      }
      for (const pid of leftovers) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          /* already gone */
        }
      }
      try {
        ip("netns", "delete", name);
      } catch {
        /* already gone */
      }
    },
  };
}
