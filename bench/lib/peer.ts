// The service next to Orthanc (Debian's 1.10 with its DICOMweb plugin): the same STOW-RS
// requests, the same clients, each server's process CPU time (user + system, from /proc) per GiB
// and per instance. The service stores into the null sink (null-s3.ts), a separate process that
// discards the bytes, so that no store's CPU is counted; Orthanc writes its files and its SQLite
// index to a scratch directory, as it does in production.
//
// Orthanc binds every interface, so this must run inside a loopback-only network namespace;
// `npm run bench -- --peer orthanc` re-runs the whole benchmark inside one (see ingest.ts).
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { Agent } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { multipartChunks } from "../../app/test/support/multipart.js";
import { DICOMWEB_PLUGIN, ORTHANC_BINARY, OrthancProcess } from "../../app/test/support/orthanc.js";
import type { ServiceHandle } from "../../app/test/support/service.js";
import { errorDocument, failedItems, referencedUids } from "../../app/test/support/store-response.js";
import { postStow } from "../../app/test/support/stow-client.js";
import { childPidsMatching, cpuMeter } from "./cpu.js";
import { BOUNDARY, buildRequests, pixelData, type SentInstance } from "./instances.js";
import { startNullSink, type NullSink } from "./null-sink.js";
import { readProfile, stagesOf, type StageBreakdown } from "./profile-stages.js";
import { mib, round } from "./stats.js";
import { drainQueue } from "./workers.js";

const GIB = 1024 * 1024 * 1024;
const SINK_BUCKET = "dicom";

/** Targets: the service's CPU per instance against Orthanc's, by instance size (KiB). */
export function peerTarget(instanceKiB: number): number {
  return instanceKiB < 256 ? 1.25 : 1.0;
}

export interface PeerOptions {
  sizesKiB: number[];
  /** MiB of instances sent to each server, per size. */
  mibPerSize: number;
  clients: number;
  perRequest: number;
  /** Service settings from the environment (UPLOAD_*, LOGLEVEL, ...). */
  serviceEnv: Record<string, string>;
  /** Extra node flags for the service. */
  nodeArgs: string[];
  /** Where to write one CPU profile per size (node --cpu-prof); undefined: none. */
  profileDir?: string;
}

export interface ServerFigures {
  seconds: number;
  instancesPerSecond: number;
  mibPerSecond: number;
  /** The server process's user + system CPU seconds while it was sent the measured instances. */
  cpuSeconds: number;
  cpuSecondsPerGiB: number;
  cpuMsPerInstance: number;
  /** Other processes on the same path: the bench's clients and, for the service, the null sink. */
  clientCpuSeconds: number;
  sinkCpuSeconds?: number;
}

export interface PeerSize {
  instanceKiB: number;
  instances: number;
  service: ServerFigures;
  orthanc: ServerFigures;
  /** Service CPU per instance / Orthanc CPU per instance. */
  ratio: number;
  target: number;
  /** Where the service's CPU went (with --profile-dir). */
  profile?: { file: string; breakdown: StageBreakdown };
}

export interface PeerResult {
  peer: string;
  orthancVersion: string;
  sizes: PeerSize[];
  /** Requests answered by the null sink, by operation (all sizes, warm-ups included). */
  sinkOperations: Record<string, number>;
}

/** Whether `ip -o addr show` lists loopback and nothing else. */
export function loopbackOnly(ipAddrOutput: string): boolean {
  const addresses = ipAddrOutput
    .trim()
    .split("\n")
    .map((l) => l.split(/\s+/)[3])
    .sort();
  return JSON.stringify(addresses) === JSON.stringify(["127.0.0.1/8", "::1/128"]);
}

/** Throws unless this process can reach nothing but loopback (Orthanc would listen on every interface). */
export function assertLoopbackOnly(): void {
  const output = execFileSync("ip", ["-o", "addr", "show"], { encoding: "utf8" });
  if (!loopbackOnly(output)) {
    throw new Error(`the Orthanc comparison runs only in a loopback-only network namespace, not here:\n${output}`);
  }
}

export function assertOrthancInstalled(): void {
  for (const [path, pkg] of [
    [ORTHANC_BINARY, "orthanc"],
    [DICOMWEB_PLUGIN, "orthanc-dicomweb"],
  ]) {
    if (!existsSync(path!)) throw new Error(`${path} is missing (Debian package ${pkg})`);
  }
}

async function send(url: string, batches: SentInstance[][], clients: number, problems: string[], who: string): Promise<number> {
  const agent = new Agent({ keepAlive: true, maxSockets: clients });
  try {
    return await drainQueue(batches, clients, async (batch) => {
      const reply = await postStow(url, multipartChunks(batch.map((i) => i.bytes), BOUNDARY), BOUNDARY, { agent });
      const stored = referencedUids(reply.json);
      if (reply.status !== 200 || stored.length !== batch.length) {
        problems.push(`${who}: status ${reply.status}, ${stored.length}/${batch.length} stored, failures ${JSON.stringify(failedItems(reply.json))} ${errorDocument(reply) ?? ""}`);
      }
    });
  } finally {
    agent.destroy();
  }
}

function figures(ms: number, bytes: number, instances: number, cpu: number, client: number, sink?: number): ServerFigures {
  const seconds = ms / 1000;
  return {
    seconds: round(seconds, 2),
    instancesPerSecond: round(instances / seconds),
    mibPerSecond: round(mib(bytes) / seconds),
    cpuSeconds: round(cpu, 2),
    cpuSecondsPerGiB: round((cpu * GIB) / bytes, 2),
    cpuMsPerInstance: round((1000 * cpu) / instances, 2),
    clientCpuSeconds: round(client, 2),
    ...(sink !== undefined ? { sinkCpuSeconds: round(sink, 2) } : {}),
  };
}

/** Microseconds on CLOCK_MONOTONIC, the clock of V8's profile timestamps. */
const monotonicUs = () => Number(process.hrtime.bigint() / 1000n);

export async function runPeerComparison(
  opts: PeerOptions,
  startService: (env: Record<string, string>, nodeArgs: string[]) => Promise<ServiceHandle>,
  stopService: (service: ServiceHandle) => Promise<void>,
  problems: string[],
  log: (line: string) => void,
): Promise<PeerResult> {
  assertLoopbackOnly();
  assertOrthancInstalled();
  const dir = mkdtempSync(join(tmpdir(), "stowrs-bench-orthanc-"));
  const sink: NullSink = await startNullSink(SINK_BUCKET);
  const result: PeerResult = { peer: "orthanc", orthancVersion: "", sizes: [], sinkOperations: {} };
  try {
    const sinkEnv = {
      S3_ENDPOINT: sink.endpoint,
      S3_BUCKET: SINK_BUCKET,
      S3_FORCE_PATH_STYLE: "true",
      AWS_REGION: "us-east-1",
      AWS_ACCESS_KEY_ID: "null-sink",
      AWS_SECRET_ACCESS_KEY: "null-sink",
    };
    for (const kib of opts.sizesKiB) {
      const requests = Math.max(2, Math.ceil((opts.mibPerSize * 1024) / kib / opts.perRequest));
      log(`Orthanc comparison, ${kib} KiB: building ${requests * opts.perRequest} instances (+ warm-up)...`);
      const pixels = pixelData(kib * 1024);
      const batches = buildRequests(requests, opts.perRequest, pixels);
      const warmup = buildRequests(2 * opts.clients, opts.perRequest, pixels);
      const sent = batches.flat();
      const bytes = sent.reduce((n, i) => n + i.bytes.length, 0);

      const profileName = `service-${kib}KiB.cpuprofile`;
      const profileArgs = opts.profileDir ? ["--cpu-prof", `--cpu-prof-dir=${opts.profileDir}`, `--cpu-prof-name=${profileName}`] : [];
      if (opts.profileDir) mkdirSync(opts.profileDir, { recursive: true });
      const service = await startService({ ...sinkEnv, ...opts.serviceEnv }, [...opts.nodeArgs, ...profileArgs]);
      const orthancDir = join(dir, `${kib}KiB`);
      mkdirSync(orthancDir);
      let orthanc: OrthancProcess | undefined;
      let window: [number, number] = [0, 0];
      try {
        orthanc = await OrthancProcess.start(orthancDir, "stowrs-bench", { KeepAlive: true, TcpNoDelay: true, DicomWeb: { Enable: true } });
        const orthancPid = childPidsMatching(join(orthancDir, "orthanc.json")).at(-1);
        if (orthancPid === undefined) throw new Error("cannot find Orthanc's process id");
        result.orthancVersion ||= ((await orthanc.request("GET", "/system")).json as { Version?: string }).Version ?? "?";
        const orthancUrl = `${orthanc.url}/dicom-web`;

        log(`Orthanc comparison, ${kib} KiB: warming up both servers...`);
        await send(service.url, warmup, opts.clients, problems, "service warm-up");
        await send(orthancUrl, warmup, opts.clients, problems, "Orthanc warm-up");

        const totals = { service: { ms: 0, cpu: 0, client: 0, sink: 0 }, orthanc: { ms: 0, cpu: 0, client: 0 } };
        const measureService = async (slice: SentInstance[][]) => {
          const meter = cpuMeter({ server: service.pid, sink: sink.pid, client: undefined });
          totals.service.ms += await send(service.url, slice, opts.clients, problems, "service");
          const cpu = meter();
          totals.service.cpu += cpu.server!;
          totals.service.sink += cpu.sink!;
          totals.service.client += cpu.client!;
        };
        const measureOrthanc = async (slice: SentInstance[][]) => {
          const meter = cpuMeter({ server: orthancPid, client: undefined });
          totals.orthanc.ms += await send(orthancUrl, slice, opts.clients, problems, "Orthanc");
          const cpu = meter();
          totals.orthanc.cpu += cpu.server!;
          totals.orthanc.client += cpu.client!;
        };
        // Two rounds, the first server of the first round goes second in the other: drift hits both.
        const half = Math.ceil(batches.length / 2);
        const first = batches.slice(0, half);
        const second = batches.slice(half);
        log(`Orthanc comparison, ${kib} KiB: ${requests} requests x ${opts.perRequest} instances, ${opts.clients} clients, to each server...`);
        window = [monotonicUs(), 0];
        await measureService(first);
        window[1] = monotonicUs();
        await measureOrthanc(first);
        await measureOrthanc(second);
        const secondStart = monotonicUs();
        await measureService(second);
        const secondEnd = monotonicUs();

        // Every acknowledged instance must have reached the sink whole.
        const stats = await sink.stats();
        let missing = 0;
        let wrong = 0;
        for (const inst of sent) {
          const got = stats.objects[inst.key];
          if (!got) missing++;
          else if (got.size !== inst.bytes.length || got.sha256 !== inst.sha256 || got.metadata.sha256 !== inst.sha256) wrong++;
        }
        if (missing) problems.push(`${kib} KiB: ${missing} instance(s) acknowledged by the service never reached the sink`);
        if (wrong) problems.push(`${kib} KiB: ${wrong} instance(s) reached the sink with other bytes (or another recorded sha256) than were sent`);
        const counted = (await orthanc.request("GET", "/statistics")).json as { CountInstances?: number };
        const expected = sent.length + warmup.flat().length;
        if (counted.CountInstances !== expected) problems.push(`${kib} KiB: Orthanc holds ${counted.CountInstances} instances, expected ${expected}`);

        const svc = figures(totals.service.ms, bytes, sent.length, totals.service.cpu, totals.service.client, totals.service.sink);
        const peer = figures(totals.orthanc.ms, bytes, sent.length, totals.orthanc.cpu, totals.orthanc.client);
        const size: PeerSize = {
          instanceKiB: kib,
          instances: sent.length,
          service: svc,
          orthanc: peer,
          ratio: round(svc.cpuMsPerInstance / peer.cpuMsPerInstance, 2),
          target: peerTarget(kib),
        };
        result.sizes.push(size);
        // The profile is written when the service exits; only its two measured windows count.
        await stopService(service);
        if (opts.profileDir) {
          const file = join(opts.profileDir, profileName);
          const profile = readProfile(file);
          const a = stagesOf(profile, window);
          const b = stagesOf(profile, [secondStart, secondEnd]);
          size.profile = { file, breakdown: mergeBreakdowns(a, b) };
        }
      } finally {
        await stopService(service);
        await orthanc?.stop();
        rmSync(orthancDir, { recursive: true, force: true });
      }
    }
    result.sinkOperations = (await sink.stats()).operations;
    return result;
  } finally {
    await sink.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

function mergeBreakdowns(a: StageBreakdown, b: StageBreakdown): StageBreakdown {
  const stages = { ...a.stages };
  for (const [k, v] of Object.entries(b.stages)) stages[k as keyof typeof stages] = round(stages[k as keyof typeof stages] + v, 1);
  const top = new Map<string, { stage: (typeof a.top)[number]["stage"]; ms: number }>();
  for (const t of [...a.top, ...b.top]) top.set(t.fn, { stage: t.stage, ms: (top.get(t.fn)?.ms ?? 0) + t.ms });
  return {
    totalMs: round(a.totalMs + b.totalMs, 1),
    stages,
    top: [...top.entries()]
      .sort((x, y) => y[1].ms - x[1].ms)
      .map(([fn, { stage, ms }]) => ({ stage, fn, ms: round(ms, 1) })),
  };
}
