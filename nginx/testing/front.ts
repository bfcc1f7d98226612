// Runs the front the way the container does: nginx/entrypoint.sh (render,
// then nginx as its child) with a given environment, on free 127.0.0.1 ports. When
// the tests run as root, the front runs as "nobody" to prove that the
// rendered configuration needs no privileges.
import { spawn, type ChildProcess } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort, isListening } from "./net.js";

export const ENTRYPOINT = fileURLToPath(new URL("../entrypoint.sh", import.meta.url));
export const RENDER = fileURLToPath(new URL("../render", import.meta.url));

const NOBODY = 65534;
const asNobody = process.getuid?.() === 0;

/** A fresh OUT_DIR the front's user can write to. */
export function makeOutDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "nginx-front-"));
  if (asNobody) chownSync(dir, NOBODY, NOBODY);
  return dir;
}

function baseEnv(outDir: string, extra: Record<string, string>): Record<string, string> {
  return {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: outDir,
    OUT_DIR: join(outDir, "out"),
    ACCESS_LOG: join(outDir, "access.log"),
    ...extra,
  };
}

/**
 * Runs the entrypoint some other way: `command args...` ends by running ENTRYPOINT itself,
 * as root (it drops privileges itself if it should), e.g. in a mount namespace.
 */
export interface Launcher {
  command: string;
  args: string[];
}

// Its own process group, so that nginx's workers can be killed with their
// master if it ever has to be killed outright.
function launch(command: string, env: Record<string, string>, launcher?: Launcher): ChildProcess {
  if (launcher) return spawn(launcher.command, launcher.args, { env, stdio: ["ignore", "pipe", "pipe"], detached: true });
  return spawn(command, [], {
    env,
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
    ...(asNobody ? { uid: NOBODY, gid: NOBODY } : {}),
  });
}

/** SIGTERM (the entrypoint stops nginx gracefully), then SIGKILL for the whole group. */
async function terminate(child: ChildProcess, exited: Promise<unknown>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill("SIGTERM");
  const timer = setTimeout(() => {
    try {
      process.kill(-child.pid!, "SIGKILL");
    } catch {
      /* already gone */
    }
  }, 10_000);
  await exited;
  clearTimeout(timer);
}

function portOf(address: string): number {
  return Number(address.slice(address.lastIndexOf(":") + 1));
}

export interface RenderResult {
  code: number | null;
  output: string;
  outDir: string;
}

/** Runs nginx/render alone. */
export async function runRender(env: Record<string, string>, outDir = makeOutDir()): Promise<RenderResult> {
  const child = launch(RENDER, baseEnv(outDir, env));
  let output = "";
  child.stdout!.on("data", (d) => (output += d));
  child.stderr!.on("data", (d) => (output += d));
  // render has no children, so its pipes close with it: "close" means all output was read.
  const code = await new Promise<number | null>((resolve) => child.once("close", (c) => resolve(c)));
  return { code, output, outDir: join(outDir, "out") };
}

export interface FrontHandle {
  /** The entrypoint's process: what ECS (or docker stop) signals. */
  pid: number;
  /** nginx's master process, from its pid file (the entrypoint's child). */
  nginxPid(): number;
  port: number;
  healthPort: number;
  /** https://127.0.0.1:port */
  url: string;
  /** http://127.0.0.1:healthPort */
  healthUrl: string;
  outDir: string;
  /** render's and nginx's stderr so far. */
  output(): string;
  /** Parsed access-log lines so far. */
  accessLog(): Array<Record<string, unknown>>;
  /** The access log as written. */
  accessLogText(): string;
  /** Exit code once the process has ended. */
  exited: Promise<number | null>;
  stop(): Promise<void>;
}

export interface StartFrontOptions {
  /** AUTH_MODE, CERT_MODE, CERT_BUCKET, UPSTREAM, S3 settings... LISTEN/HEALTH_LISTEN default to free ports. */
  env: Record<string, string>;
  launcher?: Launcher;
}

/** Starts the entrypoint and waits until both ports accept connections. */
export async function startFront({ env, launcher }: StartFrontOptions): Promise<FrontHandle> {
  const dir = makeOutDir();
  const fullEnv = baseEnv(dir, {
    LISTEN: `127.0.0.1:${await freePort()}`,
    HEALTH_LISTEN: `127.0.0.1:${await freePort()}`,
    ...env,
  });
  const port = portOf(fullEnv.LISTEN);
  const healthPort = portOf(fullEnv.HEALTH_LISTEN);
  const child = launch(ENTRYPOINT, fullEnv, launcher);
  let output = "";
  child.stdout!.on("data", (d) => (output += d));
  child.stderr!.on("data", (d) => (output += d));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (c) => resolve(c)));
  let ended = false;
  void exited.then(() => (ended = true));

  const deadline = Date.now() + 30_000;
  // nginx binds its sockets before it starts the workers.
  const started = () => output.includes("start worker processes");
  while (!(started() && (await isListening(port)) && (await isListening(healthPort)))) {
    if (ended || Date.now() > deadline) {
      await terminate(child, exited);
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`front did not start (exit ${child.exitCode}):\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }

  const accessLogPath = fullEnv.ACCESS_LOG;
  return {
    pid: child.pid!,
    nginxPid: () => Number(readFileSync(join(fullEnv.OUT_DIR, "nginx.pid"), "utf8").trim()),
    port,
    healthPort,
    url: `https://127.0.0.1:${port}`,
    healthUrl: `http://127.0.0.1:${healthPort}`,
    outDir: fullEnv.OUT_DIR,
    output: () => output,
    accessLog: () =>
      existsSync(accessLogPath)
        ? readFileSync(accessLogPath, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l))
        : [],
    accessLogText: () => (existsSync(accessLogPath) ? readFileSync(accessLogPath, "utf8") : ""),
    exited,
    async stop() {
      await terminate(child, exited);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
