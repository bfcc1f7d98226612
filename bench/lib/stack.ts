// What a benchmark runs against: the embedded S3-compatible store (s3rver child process, data in a
// temporary directory) and service child processes pointed at it. Everything started here is
// stopped by stop(), which the CLI also calls on SIGINT/SIGTERM.
import { mkdtempSync, rmSync } from "node:fs";
import { Agent } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { S3Client } from "@aws-sdk/client-s3";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import { compiledServiceEntry } from "./compiled-service.js";
import { childPidsMatching } from "./cpu.js";
import { loadConfig } from "../../app/src/config.js";
import { startEmbeddedStore, type EmbeddedStore } from "../../app/src/embedded-s3/embedded-store.js";
import { embeddedStoreClient, embeddedStoreEnv } from "../../app/test/support/s3rver.js";
import { startServiceProcess, type ServiceHandle } from "../../app/test/support/service.js";

const BUCKET = "dicom";
/** A service that does not exit this long after SIGTERM is killed. */
const STOP_GRACE_MS = 10_000;

/** Service settings a benchmark may pass through from its own environment. */
export const SERVICE_SETTINGS = [
  "UPLOAD_PART_SIZE_MIB",
  "UPLOAD_PART_CONCURRENCY",
  "UPLOAD_INSTANCE_CONCURRENCY",
  "MAX_INSTANCES_IN_FLIGHT",
  "LOGLEVEL",
] as const;

export interface Stack {
  bucket: string;
  dir: string;
  store: EmbeddedStore;
  /** Process id of the store (for CPU and memory figures); undefined if it could not be found. */
  storePid: number | undefined;
  /** A client for the same store, configured as s3rver needs (no streamed checksums). */
  s3: S3Client;
  /** Environment that points a service at the store. */
  serviceEnv: Record<string, string>;
  startService(env?: Record<string, string>, nodeArgs?: string[]): Promise<ServiceHandle>;
  /** Stops a service started here (SIGTERM, then SIGKILL after a grace period). */
  stopService(service: ServiceHandle): Promise<void>;
  stop(): Promise<void>;
}

const running = new Set<Stack>();
/** Last resort when this process exits without stop() (crash, process.exit): nothing may outlive it. */
const killOnExit = new Set<() => void>();
process.on("exit", () => {
  for (const kill of killOnExit) kill();
});

/** Stops every stack still running (signal handlers, crashes). */
export async function stopAllStacks(): Promise<void> {
  await Promise.allSettled([...running].map((s) => s.stop()));
}

export interface StackOptions {
  /** Run the service compiled with tsc (as in production) instead of through the tsx loader. */
  compiled?: boolean;
  /** Whether the store honours If-None-Match on PutObject (default true, as Amazon S3). */
  conditionalWrites?: boolean;
}

/** How the service processes of a stack are started, for the report. */
export function serviceCommand(compiled: boolean): string {
  return compiled ? "node --expose-gc node_modules/.cache/stowrs-bench/app/main.js (app/src compiled with tsc, started as the image's CMD starts it)" : "node --expose-gc --import tsx app/src/main.ts";
}

export async function startStack(opts: StackOptions = {}): Promise<Stack> {
  const entry = opts.compiled ? compiledServiceEntry() : undefined;
  const dir = mkdtempSync(join(tmpdir(), "stowrs-bench-"));
  let store: EmbeddedStore;
  try {
    store = await startEmbeddedStore({ dir: join(dir, "s3"), bucket: BUCKET, conditionalWrites: opts.conditionalWrites });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const s3 = embeddedStoreClient(store.endpoint, { requestHandler: new NodeHttpHandler({ httpAgent: new Agent({ keepAlive: true, maxSockets: 64 }) }) });
  const serviceEnv = embeddedStoreEnv(store.endpoint, BUCKET);
  const services = new Set<ServiceHandle>();

  const stopService = async (service: ServiceHandle) => {
    services.delete(service);
    const timer = setTimeout(() => void service.stop("SIGKILL"), STOP_GRACE_MS);
    try {
      await service.stop("SIGTERM");
    } finally {
      clearTimeout(timer);
    }
  };

  const killEverything = () => {
    for (const service of services) void service.stop("SIGKILL");
    void store.kill();
    rmSync(dir, { recursive: true, force: true });
  };
  killOnExit.add(killEverything);

  let stopping: Promise<void> | undefined;
  const stack: Stack = {
    bucket: BUCKET,
    dir,
    store,
    storePid: childPidsMatching("s3rver-main").at(-1),
    s3,
    serviceEnv,
    async startService(env = {}, nodeArgs = []) {
      // Node runs the first argument that is not a flag: with the compiled entry there, the harness's own
      // "--import tsx app/src/main.ts" that follow become unused arguments of the compiled service.
      const service = await startServiceProcess({ ...serviceEnv, ...env }, entry ? [...nodeArgs, entry] : nodeArgs);
      services.add(service);
      return service;
    },
    stopService,
    stop: () =>
      (stopping ??= (async () => {
        running.delete(stack);
        killOnExit.delete(killEverything);
        await Promise.allSettled([...services].map(stopService));
        s3.destroy();
        await store.stop().catch(() => store.kill());
        rmSync(dir, { recursive: true, force: true });
      })()),
  };
  running.add(stack);
  return stack;
}

/** Service settings taken from the benchmark's environment (unset ones keep the service default). */
export function serviceSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of SERVICE_SETTINGS) {
    const v = env[name];
    if (v !== undefined && v !== "") out[name] = v;
  }
  return out;
}

/** The values the service will actually use, defaults included, for printing. */
export function effectiveServiceSettings(env: Record<string, string>): Record<string, string | number> {
  const c = loadConfig({ S3_BUCKET: BUCKET, ...env });
  return {
    UPLOAD_PART_SIZE_MIB: c.upload.partSizeBytes / (1024 * 1024),
    UPLOAD_PART_CONCURRENCY: c.upload.partConcurrency,
    UPLOAD_INSTANCE_CONCURRENCY: c.upload.instanceConcurrency,
    MAX_INSTANCES_IN_FLIGHT: c.maxInstancesInFlight,
    LOGLEVEL: env.LOGLEVEL ?? "INFO",
  };
}
