// Starts the null S3 sink (null-s3.ts) as a child process on 127.0.0.1 and reads its figures.
import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { STATS_PATH, type SinkStats } from "./null-s3.js";

const entry = fileURLToPath(new URL("./null-s3-main.ts", import.meta.url));

export interface NullSink {
  endpoint: string;
  pid: number;
  bucket: string;
  /** Objects received so far (size and SHA-256 of the bytes that arrived), and requests by operation. */
  stats(): Promise<SinkStats>;
  stop(): Promise<void>;
  kill(): void;
}

export async function startNullSink(bucket: string): Promise<NullSink> {
  const child: ChildProcess = spawn(process.execPath, ["--import", "tsx", entry], {
    env: { ...process.env, NODE_OPTIONS: "", NULL_S3_BUCKET: bucket },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr!.on("data", (d) => (stderr += d));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const port = await new Promise<number>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on("line", (line) => {
      try {
        const msg = JSON.parse(line);
        if (msg.event === "null-s3-listening") resolve(msg.port);
      } catch {
        /* not ours */
      }
    });
    child.once("exit", (code) => reject(new Error(`null S3 sink exited with ${code}: ${stderr.trim()}`)));
  });
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    pid: child.pid!,
    bucket,
    stats: async () => (await (await fetch(`${endpoint}${STATS_PATH}`)).json()) as SinkStats,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      const killer = setTimeout(() => child.kill("SIGKILL"), 5_000);
      await exited;
      clearTimeout(killer);
    },
    kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    },
  };
}
