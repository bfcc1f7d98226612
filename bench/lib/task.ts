// `npm run bench -- --task`: the same STOW-RS requests through the task as it is deployed, and what
// they cost. The nginx front terminates TLS (mutual TLS with `--task-auth clientauth`) with the
// certificates it reads from a bucket, as in the stack; the app behind it stores over HTTPS into
// the embedded store (the one S3 stand-in here, serving TLS with the same throwaway CA). The CPU
// counted is the whole task's, nginx's master and workers plus the app; the store plays S3 and is
// not counted. From CPU seconds per GiB follow vCPU-hours and Fargate compute dollars per TB, shown
// next to what S3 charges for the requests the app made for the same instances.
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { Agent } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import { startEmbeddedStore, type EmbeddedStore } from "../../app/src/embedded-s3/embedded-store.js";
import { multipartChunks } from "../../app/test/support/multipart.js";
import { embeddedStoreClient, embeddedStoreEnv } from "../../app/test/support/s3rver.js";
import { startServiceProcess, type ServiceHandle } from "../../app/test/support/service.js";
import { errorDocument, failedItems, referencedUids } from "../../app/test/support/store-response.js";
import { postStow } from "../../app/test/support/stow-client.js";
import { createBucket, frontFiles, putFiles } from "../../nginx/testing/bucket.js";
import { startFront, type FrontHandle } from "../../nginx/testing/front.js";
import { makePki, type Pki } from "../../nginx/testing/pki.js";
import { compiledServiceEntry } from "./compiled-service.js";
import { cpuSeconds, descendantPidsNamed } from "./cpu.js";
import { BOUNDARY, buildRequests, pixelData, type SentInstance } from "./instances.js";
import { s3CallsOf } from "./s3-calls.js";
import { mib, round } from "./stats.js";
import { verifyStored } from "./verify.js";
import { drainQueue } from "./workers.js";

const GIB = 2 ** 30;
/** A terabyte as AWS bills data: 10^12 bytes. */
export const TB = 1e12;
const BUCKET = "dicom";
const CERT_BUCKET = "task-certificates";

export type TaskAuth = "clientauth" | "anonymous";
export const TASK_AUTHS: readonly TaskAuth[] = ["clientauth", "anonymous"];

/** Prices in US dollars; defaults from AWS's public price lists for us-east-1 (bench/README.md names them). */
export interface Prices {
  /** Fargate, Linux/x86, per vCPU-hour. */
  vcpuHour: number;
  /** S3 Standard PUT, COPY, POST and LIST requests, per 1,000. */
  s3ClassAPer1000: number;
  /** S3 Standard GET, HEAD and all other requests, per 1,000. */
  s3ClassBPer1000: number;
}
export const DEFAULT_PRICES: Prices = { vcpuHour: 0.04048, s3ClassAPer1000: 0.005, s3ClassBPer1000: 0.0004 };

/** S3 operations billed at the PUT/COPY/POST/LIST rate; DELETE and AbortMultipartUpload are free; the rest at the GET rate. */
const CLASS_A = new Set(["PutObject", "CopyObject", "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload", "ListObjectsV2", "ListParts", "PutObjectTagging"]);
const FREE = new Set(["DeleteObject", "AbortMultipartUpload"]);

export interface TaskOptions {
  sizesKiB: number[];
  /** MiB of instances measured per size. */
  mibPerSize: number;
  clients: number;
  perRequest: number;
  auth: TaskAuth;
  prices: Prices;
  /** Service settings from the environment (UPLOAD_*, LOGLEVEL, ...). */
  serviceEnv: Record<string, string>;
}

export interface TaskCost {
  vcpuHoursPerTB: number;
  fargateUsdPerTB: number;
  s3RequestsPerInstance: number;
  s3UsdPerTB: number;
}

export interface TaskSize extends TaskCost {
  instanceKiB: number;
  instances: number;
  seconds: number;
  mibPerSecond: number;
  /** CPU seconds while the measured instances went through: the app, nginx (master and workers), both. */
  cpuSeconds: { app: number; nginx: number; task: number };
  cpuSecondsPerGiB: { app: number; nginx: number; task: number };
  /** The app's S3 requests for the measured instances, by operation. */
  s3Calls: Record<string, number>;
}

export interface TaskResult {
  auth: TaskAuth;
  prices: Prices;
  sizes: TaskSize[];
}

/** CPU-seconds per GiB and S3 requests per instance, turned into hours and dollars per TB. */
export function costPerTB(cpuSecondsPerGiB: number, bytesPerInstance: number, s3CallsPerInstance: Record<string, number>, prices: Prices): TaskCost {
  const vcpuHoursPerTB = (cpuSecondsPerGiB * (TB / GIB)) / 3600;
  const instancesPerTB = TB / bytesPerInstance;
  let perInstanceUsd = 0;
  let perInstanceRequests = 0;
  for (const [op, n] of Object.entries(s3CallsPerInstance)) {
    perInstanceRequests += n;
    if (FREE.has(op)) continue;
    perInstanceUsd += (n * (CLASS_A.has(op) ? prices.s3ClassAPer1000 : prices.s3ClassBPer1000)) / 1000;
  }
  return {
    vcpuHoursPerTB: round(vcpuHoursPerTB, 3),
    fargateUsdPerTB: round(vcpuHoursPerTB * prices.vcpuHour, 3),
    s3RequestsPerInstance: round(perInstanceRequests, 3),
    s3UsdPerTB: round(perInstanceUsd * instancesPerTB, 2),
  };
}

function difference(after: Record<string, number>, before: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [op, n] of Object.entries(after)) if (n - (before[op] ?? 0) > 0) out[op] = n - (before[op] ?? 0);
  return out;
}

interface Task {
  pki: Pki;
  store: EmbeddedStore;
  service: ServiceHandle;
  front: FrontHandle;
  agent: Agent;
  verify(sent: SentInstance[]): Promise<{ missing: number; wrong: number }>;
  stop(): Promise<void>;
}

/** The store with TLS, the certificate bucket, the compiled app and the front, as the stack wires them. */
async function startTask(opts: TaskOptions): Promise<Task> {
  const dir = mkdtempSync(join(tmpdir(), "stowrs-bench-task-"));
  // The front runs as nobody when the bench runs as root: it must read the CA (NODE_EXTRA_CA_CERTS).
  chmodSync(dir, 0o755);
  const pki = makePki(dir);
  chmodSync(pki.ca.cert, 0o644);
  let store: EmbeddedStore | undefined;
  let service: ServiceHandle | undefined;
  let front: FrontHandle | undefined;
  const agent = new Agent({
    keepAlive: true,
    maxSockets: opts.clients,
    ca: pki.ca.certPem,
    ...(opts.auth === "clientauth" ? { cert: pki.client.certPem, key: pki.client.keyPem } : {}),
  });
  const httpsAgent = new Agent({ keepAlive: true, maxSockets: 16, ca: pki.ca.certPem });
  const s3 = () => embeddedStoreClient(store!.endpoint, { requestHandler: new NodeHttpHandler({ httpsAgent }) });
  const stop = async () => {
    agent.destroy();
    await front?.stop().catch(() => undefined);
    await service?.stop().catch(() => undefined);
    await store?.stop().catch(() => store?.kill());
    httpsAgent.destroy();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    store = await startEmbeddedStore({ dir: join(dir, "s3"), bucket: BUCKET, tls: { certFile: pki.server.cert, keyFile: pki.server.key } });
    const client = s3();
    await createBucket(client, CERT_BUCKET);
    await putFiles(client, CERT_BUCKET, frontFiles(pki));
    client.destroy();
    const storeEnv: Record<string, string> = { ...embeddedStoreEnv(store.endpoint, BUCKET), NODE_EXTRA_CA_CERTS: pki.ca.cert };
    // The compiled app as the image runs it (node --expose-gc app/dist/main.js).
    service = await startServiceProcess({ ...storeEnv, ...opts.serviceEnv }, [compiledServiceEntry()]);
    const fromStore = ["S3_ENDPOINT", "S3_FORCE_PATH_STYLE", "AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "NODE_EXTRA_CA_CERTS"];
    front = await startFront({
      env: {
        AUTH_MODE: opts.auth,
        CERT_MODE: "FROMS3",
        CERT_BUCKET,
        ...Object.fromEntries(fromStore.map((k) => [k, storeEnv[k]!])),
        UPSTREAM: `127.0.0.1:${service.port}`,
      },
    });
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    pki,
    store,
    service,
    front,
    agent,
    async verify(sent) {
      const client = s3();
      try {
        const r = await verifyStored(client, BUCKET, sent.map((i) => ({ key: i.key, size: i.bytes.length, sha256: i.sha256 })));
        return { missing: r.missing.length, wrong: r.wrong.length };
      } finally {
        client.destroy();
      }
    },
    stop,
  };
}

async function send(task: Task, batches: SentInstance[][], clients: number, problems: string[]): Promise<number> {
  return drainQueue(batches, clients, async (batch) => {
    const reply = await postStow(task.front.url, multipartChunks(batch.map((i) => i.bytes), BOUNDARY), BOUNDARY, { agent: task.agent });
    const stored = referencedUids(reply.json);
    if (reply.status !== 200 || stored.length !== batch.length) {
      problems.push(`through the front: status ${reply.status}, ${stored.length}/${batch.length} stored, failures ${JSON.stringify(failedItems(reply.json))} ${errorDocument(reply) ?? ""}`);
    }
  });
}

function taskCpu(appPid: number): { app: number; nginx: number } {
  const nginx = descendantPidsNamed("nginx:").reduce((n, pid) => n + cpuSeconds(pid), 0);
  return { app: cpuSeconds(appPid), nginx };
}

export async function runTaskBench(opts: TaskOptions, problems: string[], log: (line: string) => void): Promise<TaskResult> {
  const task = await startTask(opts);
  const result: TaskResult = { auth: opts.auth, prices: opts.prices, sizes: [] };
  try {
    if (descendantPidsNamed("nginx:").length < 2) throw new Error("cannot find nginx's master and worker processes");
    for (const kib of opts.sizesKiB) {
      const requests = Math.max(2, Math.ceil((opts.mibPerSize * 1024) / kib / opts.perRequest));
      log(`task, ${kib} KiB: building ${requests * opts.perRequest} instances (+ warm-up)...`);
      const pixels = pixelData(kib * 1024);
      const batches = buildRequests(requests, opts.perRequest, pixels);
      const warmup = buildRequests(2 * opts.clients, opts.perRequest, pixels);
      const sent = batches.flat();
      const bytes = sent.reduce((n, i) => n + i.bytes.length, 0);

      log(`task, ${kib} KiB: warming up, then ${requests} requests x ${opts.perRequest} instances from ${opts.clients} clients through ${opts.auth === "clientauth" ? "mutual TLS" : "TLS"}...`);
      await send(task, warmup, opts.clients, problems);
      const callsBefore = await s3CallsOf(task.service.url);
      const before = taskCpu(task.service.pid);
      const ms = await send(task, batches, opts.clients, problems);
      const after = taskCpu(task.service.pid);
      const s3Calls = difference(await s3CallsOf(task.service.url), callsBefore);

      const checked = await task.verify(sent);
      if (checked.missing) problems.push(`${kib} KiB: ${checked.missing} acknowledged instance(s) are not in the bucket`);
      if (checked.wrong) problems.push(`${kib} KiB: ${checked.wrong} instance(s) in the bucket differ from what was sent`);

      const app = after.app - before.app;
      const nginx = after.nginx - before.nginx;
      const gib = bytes / GIB;
      const perInstance = Object.fromEntries(Object.entries(s3Calls).map(([op, n]) => [op, n / sent.length]));
      const taskPerGiB = (app + nginx) / gib;
      result.sizes.push({
        instanceKiB: kib,
        instances: sent.length,
        seconds: round(ms / 1000, 2),
        mibPerSecond: round(mib(bytes) / (ms / 1000)),
        cpuSeconds: { app: round(app, 2), nginx: round(nginx, 2), task: round(app + nginx, 2) },
        cpuSecondsPerGiB: { app: round(app / gib, 2), nginx: round(nginx / gib, 2), task: round(taskPerGiB, 2) },
        s3Calls,
        ...costPerTB(taskPerGiB, bytes / sent.length, perInstance, opts.prices),
      });
    }
    return result;
  } finally {
    await task.stop();
  }
}
