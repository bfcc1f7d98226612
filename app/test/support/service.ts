// Test harness: the real service as a child process (`node --expose-gc --import tsx app/src/main.ts`) on 127.0.0.1.
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

export interface ServiceHandle {
  url: string;
  /** GET /metrics's listener when it has one of its own (METRICS_PORT, or bearer tokens on). */
  metricsUrl?: string;
  port: number;
  pid: number;
  /** Every stdout line so far (JSON log lines). */
  logs(): string[];
  /** The JSON log lines so far, parsed; only those whose `msg` is `msg` when given. */
  logRecords(msg?: string): Array<Record<string, unknown>>;
  /** Everything written to stderr so far. */
  stderr(): string;
  /** Sends the signal (SIGTERM by default) and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  /** Resolves when the process has exited, with its exit code. */
  exited: Promise<number | null>;
}

const mainEntry = fileURLToPath(new URL("../../src/main.ts", import.meta.url));

export function spawnService(env: Record<string, string>, extraNodeArgs: string[] = []) {
  // --expose-gc as in the image's CMD: large uploads ask for a scavenge after each part (storage/young-garbage.ts).
  return spawn(process.execPath, ["--expose-gc", ...extraNodeArgs, "--import", "tsx", mainEntry], {
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", HOST: "127.0.0.1", PORT: "0", LOGLEVEL: "INFO", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
}

export async function startServiceProcess(env: Record<string, string>, extraNodeArgs: string[] = []): Promise<ServiceHandle> {
  const child = spawnService(env, extraNodeArgs);
  const lines: string[] = [];
  let stderr = "";
  child.stderr!.on("data", (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  let metricsUrl: string | undefined;
  const url = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on("line", (line) => {
      lines.push(line);
      try {
        const msg = JSON.parse(line);
        if (msg.msg === "listening" && typeof msg.url === "string") {
          metricsUrl = typeof msg.metricsUrl === "string" ? msg.metricsUrl : undefined;
          resolve(msg.url);
        }
      } catch {
        /* not JSON */
      }
    });
    exited.then((code) => reject(new Error(`service exited with ${code} before listening:\n${stderr}\n${lines.join("\n")}`)));
  });
  return {
    url,
    metricsUrl,
    port: Number(new URL(url).port),
    pid: child.pid!,
    logs: () => [...lines],
    logRecords: (msg?: string) =>
      lines.flatMap((line) => {
        try {
          const record = JSON.parse(line) as Record<string, unknown>;
          return msg === undefined || record.msg === msg ? [record] : [];
        } catch {
          return [];
        }
      }),
    stderr: () => stderr,
    exited,
    async stop(signal: NodeJS.Signals = "SIGTERM") {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}
