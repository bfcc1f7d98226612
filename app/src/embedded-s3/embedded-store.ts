import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { extname } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { ConfigError } from "../config.js";

export const EMBEDDED_ACCESS_KEY = "S3RVER";
export const EMBEDDED_SECRET_KEY = "S3RVER";

export interface EmbeddedStoreOptions {
  dir: string;
  bucket: string;
  /** 0 picks a free port. */
  port?: number;
  /** Honour `If-None-Match: *` on PutObject and CompleteMultipartUpload, and answer AbortMultipartUpload, as Amazon S3 does (default true; see conditional-put.ts). */
  conditionalWrites?: boolean;
  /** Serve HTTPS with this certificate and key (PEM files), as a benchmark of the deployed task needs; default plain HTTP. */
  tls?: { certFile: string; keyFile: string };
}

export interface EmbeddedStore {
  endpoint: string;
  port: number;
  bucket: string;
  dir: string;
  /** Graceful stop. */
  stop(): Promise<void>;
  /** SIGKILL: simulates the store vanishing. */
  kill(): Promise<void>;
  /** Start again on the same port and directory after stop() or kill(). */
  restart(): Promise<void>;
}

const entry = fileURLToPath(new URL(`./s3rver-main${extname(fileURLToPath(import.meta.url))}`, import.meta.url));

function spawnStore(opts: EmbeddedStoreOptions, port: number): Promise<{ child: ChildProcess; port: number }> {
  const args = ["--openssl-legacy-provider"];
  if (entry.endsWith(".ts")) args.push("--import", "tsx");
  args.push(entry);
  const child = spawn(process.execPath, args, {
    env: {
      ...process.env,
      NODE_OPTIONS: "",
      S3RVER_DIR: opts.dir,
      S3RVER_PORT: String(port),
      S3RVER_BUCKET: opts.bucket,
      S3RVER_CONDITIONAL_WRITES: opts.conditionalWrites === false ? "0" : "1",
      ...(opts.tls ? { S3RVER_TLS_CERT: opts.tls.certFile, S3RVER_TLS_KEY: opts.tls.keyFile } : {}),
    },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr!.on("data", (d) => (stderr += d));
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.on("line", (line) => {
      try {
        const msg = JSON.parse(line);
        if (msg.event === "s3rver-listening") resolve({ child, port: msg.port });
      } catch {
        /* not ours */
      }
    });
    child.once("exit", (code) => reject(new Error(`embedded S3 store exited with ${code}: ${stderr.trim()}`)));
  });
}

function waitExit(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once("exit", () => resolve()));
}

/** How long a graceful stop may take before the store is killed. */
const STOP_TIMEOUT_MS = 3_000;

/** Whether s3rver is installed: a development dependency, so not in the image (npm ci --omit=dev). */
function s3rverInstalled(): boolean {
  try {
    createRequire(import.meta.url).resolve("s3rver");
    return true;
  } catch {
    return false;
  }
}

export async function startEmbeddedStore(opts: EmbeddedStoreOptions): Promise<EmbeddedStore> {
  if (!s3rverInstalled()) {
    throw new ConfigError([
      "S3_BUCKET is required in this image; the embedded store is for local runs (its S3-compatible server, s3rver, is a development dependency and not installed here)",
    ]);
  }
  mkdirSync(opts.dir, { recursive: true });
  let { child, port } = await spawnStore(opts, opts.port ?? 0);
  return {
    get endpoint() {
      return `${opts.tls ? "https" : "http"}://127.0.0.1:${port}`;
    },
    get port() {
      return port;
    },
    bucket: opts.bucket,
    dir: opts.dir,
    async stop() {
      child.kill("SIGTERM");
      // It exits within 2 s of the signal itself (exit-with-parent.ts); should it not, it is killed.
      const kill = setTimeout(() => child.kill("SIGKILL"), STOP_TIMEOUT_MS);
      await waitExit(child);
      clearTimeout(kill);
    },
    async kill() {
      child.kill("SIGKILL");
      await waitExit(child);
    },
    async restart() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        await waitExit(child);
      }
      ({ child, port } = await spawnStore(opts, port));
    },
  };
}
