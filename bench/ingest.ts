// `npm run bench`: STOW-RS ingest through the service versus PutObject straight into the same
// store, and the service's peak memory while one very large instance streams through it.
// `--peer orthanc` adds the service's CPU per instance next to Orthanc's (lib/peer.ts).
import { spawn } from "node:child_process";
import { Agent } from "node:http";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { multipartChunks } from "../app/test/support/multipart.js";
import { createLoopbackNamespace } from "../app/test/support/netns.js";
import { errorDocument, failedItems, referencedUids } from "../app/test/support/store-response.js";
import { postStow } from "../app/test/support/stow-client.js";
import { formatStages } from "./cpu-profile-stages.js";
import { BIG_INSTANCE_FORMS, bigInstance, bigInstanceRequest, type BigInstanceForm } from "./lib/big-instance.js";
import { commandLine, isMain, runCli } from "./lib/cli.js";
import { cpuMeter, cpuSeconds } from "./lib/cpu.js";
import { BOUNDARY, buildRequests, pixelData, type SentInstance } from "./lib/instances.js";
import { readProcessMemory } from "./lib/memory.js";
import { OptionError, parseOptions, usage, type OptionValues } from "./lib/options.js";
import { runPeerComparison, type PeerResult, type ServerFigures } from "./lib/peer.js";
import { printReport, type Row, type Verdict } from "./lib/report.js";
import { s3CallsOf } from "./lib/s3-calls.js";
import { runTask, TASK_OPTIONS, taskRows, taskSettings } from "./lib/task-command.js";
import { effectiveServiceSettings, serviceCommand, serviceSettingsFromEnv, startStack, type Stack } from "./lib/stack.js";
import { mib, percentile, round } from "./lib/stats.js";
import { verifyStored } from "./lib/verify.js";
import { drainQueue } from "./lib/workers.js";

export const INGEST_OPTIONS = {
  instances: { kind: "int", env: "BENCH_INSTANCES", default: 1024, min: 1, help: "instances sent through the service (and PUT straight)" },
  clients: { kind: "int", env: "BENCH_CLIENTS", default: 8, min: 1, help: "concurrent clients" },
  rounds: { kind: "int", env: "BENCH_ROUNDS", default: 8, min: 1, help: "alternating rounds of raw PUT and service ingest" },
  "per-request": { kind: "int", env: "BENCH_PER_REQUEST", default: 8, min: 1, help: "instances per STOW-RS request" },
  "instance-kib": { kind: "int", env: "BENCH_INSTANCE_KIB", default: 1024, min: 1, help: "size of each instance, KiB" },
  "big-mib": { kind: "int", env: "BENCH_BIG_MIB", default: 1024, min: 1, help: "size of the single large instance, MiB" },
  "skip-big": { kind: "bool", env: "BENCH_SKIP_BIG", default: false, help: "leave out the large-instance phase" },
  "skip-raw": { kind: "bool", env: "BENCH_SKIP_RAW", default: false, help: "leave out the raw PUT vs. service phase (embedded store)" },
  peer: {
    kind: "string",
    env: "BENCH_PEER",
    default: "",
    help: "orthanc: also send the same requests to Orthanc + DICOMweb and the service (storing into a null S3 sink), CPU per instance side by side (runs in a loopback-only network namespace, needs root)",
  },
  "peer-sizes": { kind: "string", env: "BENCH_PEER_SIZES", default: "64,256,1024", help: "instance sizes of the Orthanc comparison, KiB" },
  "peer-mib": { kind: "int", env: "BENCH_PEER_MIB", default: 256, min: 1, help: "MiB of instances sent to each server, per size" },
  "peer-clients": { kind: "int", env: "BENCH_PEER_CLIENTS", default: 4, min: 1, help: "concurrent clients in the Orthanc comparison" },
  "peer-per-request": { kind: "int", env: "BENCH_PEER_PER_REQUEST", default: 8, min: 1, help: "instances per request in the Orthanc comparison" },
  "profile-dir": {
    kind: "string",
    env: "BENCH_PROFILE_DIR",
    default: "",
    help: "write a CPU profile of the service for each size of the Orthanc comparison there, and print where its CPU went (profiling slows the service)",
  },
  "service-node-args": {
    kind: "string",
    env: "BENCH_SERVICE_NODE_ARGS",
    default: "",
    help: 'extra node flags for the service processes, e.g. --service-node-args="--cpu-prof --cpu-prof-dir=/tmp/prof"',
  },
  "store-conditional-writes": {
    kind: "bool",
    env: "BENCH_STORE_CONDITIONAL_WRITES",
    default: true,
    help: "the embedded store honours If-None-Match as Amazon S3 does (false: s3rver as published, and the service checks each instance with a HEAD)",
  },
  compiled: { kind: "bool", env: "BENCH_COMPILED", default: true, help: "run the service compiled with tsc, as npm start and the container do (BENCH_COMPILED=0: through tsx)" },
  ...TASK_OPTIONS,
} as const;

export type IngestOptions = OptionValues<typeof INGEST_OPTIONS>;

export const TARGETS = { ratio: 0.9, bigPeakRssMiB: 150 } as const;

interface Throughput {
  seconds: number;
  instances: number;
  bytes: number;
  mibPerSecond: number;
  instancesPerSecond: number;
  p50Ms: number;
  p99Ms: number;
}

export interface IngestResult {
  bench: "ingest";
  settings: Record<string, string | number | boolean>;
  service: null | (Throughput & { requests: number; peakRssMiB: number; cpuSeconds: Record<string, number>; s3Calls: Record<string, number> });
  rawPut: null | (Throughput & { puts: number; cpuSeconds: Record<string, number> });
  ratio: number | null;
  /** The large instance as the one part of a multipart/related request. */
  big: null | BigResult;
  /** The same size of instance as a single-part application/dicom body, through another fresh service. */
  bigSinglePart: null | BigResult;
  verified: null | { checked: number; missing: number; wrong: number };
  peer: PeerResult | null;
  targets: { ratio?: Verdict; bigPeakRss?: Verdict; bigSinglePartPeakRss?: Verdict } & Record<string, Verdict | undefined>;
  problems: string[];
}

type BigResult = {
  form: BigInstanceForm;
  sizeMiB: number;
  seconds: number;
  mibPerSecond: number;
  peakRssMiB: number;
  idlePeakRssMiB: number;
  serviceCpuSeconds: number;
  bytesMatch: boolean;
};

function throughput(ms: number, instances: SentInstance[], latencies: number[]): Throughput {
  const bytes = instances.reduce((n, i) => n + i.bytes.length, 0);
  const seconds = ms / 1000;
  return {
    seconds: round(seconds, 2),
    instances: instances.length,
    bytes,
    mibPerSecond: round(mib(bytes) / seconds),
    instancesPerSecond: round(instances.length / seconds),
    p50Ms: round(percentile(latencies, 50)),
    p99Ms: round(percentile(latencies, 99)),
  };
}

async function putStraight(stack: Stack, batches: SentInstance[][], clients: number, latencies: number[] | null): Promise<number> {
  const all = batches.flat();
  return drainQueue(all, clients, async (inst) => {
    const started = performance.now();
    await stack.s3.send(new PutObjectCommand({ Bucket: stack.bucket, Key: `raw/${inst.key}`, Body: inst.bytes, ContentType: "application/dicom" }));
    latencies?.push(performance.now() - started);
  });
}

async function postThroughService(url: string, batches: SentInstance[][], clients: number, latencies: number[] | null, problems: string[]): Promise<number> {
  const agent = new Agent({ keepAlive: true, maxSockets: clients });
  try {
    return await drainQueue(batches, clients, async (batch) => {
      const reply = await postStow(url, multipartChunks(batch.map((i) => i.bytes), BOUNDARY), BOUNDARY, { agent });
      latencies?.push(reply.ms);
      const stored = referencedUids(reply.json);
      if (reply.status !== 200 || stored.length !== batch.length) {
        problems.push(`POST /studies: status ${reply.status}, ${stored.length}/${batch.length} stored, failures ${JSON.stringify(failedItems(reply.json))} ${errorDocument(reply) ?? ""}`);
      }
    });
  } finally {
    agent.destroy();
  }
}

async function bigPhase(stack: Stack, sizeMiB: number, serviceEnv: Record<string, string>, problems: string[], form: BigInstanceForm): Promise<BigResult> {
  // A fresh process, so that the high-water mark is this instance's alone.
  const service = await stack.startService(serviceEnv);
  const agent = new Agent({ keepAlive: false });
  try {
    const idle = readProcessMemory(service.pid);
    const big = bigInstance(sizeMiB * 1024 * 1024);
    const { body, headers } = bigInstanceRequest(big, form, BOUNDARY);
    const cpuBefore = cpuSeconds(service.pid);
    const reply = await postStow(service.url, body, BOUNDARY, { agent, headers });
    const peak = readProcessMemory(service.pid);
    const serviceCpu = cpuSeconds(service.pid) - cpuBefore;
    const stored = referencedUids(reply.json);
    if (reply.status !== 200 || stored[0] !== big.sopInstanceUid) {
      problems.push(`large instance (${form}): status ${reply.status}, stored ${JSON.stringify(stored)}, failures ${JSON.stringify(failedItems(reply.json))} ${errorDocument(reply) ?? ""}`);
    }
    const check = await verifyStored(stack.s3, stack.bucket, [{ key: big.key, size: big.size, sha256: big.sha256() }], 1);
    if (check.missing.length) problems.push(`large instance (${form}): no object at ${big.key}`);
    if (check.wrong.length) problems.push(`large instance (${form}): stored bytes differ from the bytes sent (${big.key})`);
    return {
      form,
      sizeMiB,
      seconds: round(reply.ms / 1000, 2),
      mibPerSecond: round(sizeMiB / (reply.ms / 1000)),
      peakRssMiB: round(mib(peak.peakRss)),
      idlePeakRssMiB: round(mib(idle.peakRss)),
      serviceCpuSeconds: round(serviceCpu, 2),
      bytesMatch: check.missing.length === 0 && check.wrong.length === 0,
    };
  } finally {
    agent.destroy();
    await stack.stopService(service);
  }
}

interface RawPhase {
  service: NonNullable<IngestResult["service"]>;
  rawPut: NonNullable<IngestResult["rawPut"]>;
  verified: NonNullable<IngestResult["verified"]>;
}

/** Raw PutObject and the service, into the embedded store, in alternating rounds; then every instance read back. */
async function rawPhase(stack: Stack, opts: IngestOptions, serviceEnv: Record<string, string>, nodeArgs: string[], problems: string[], log: (line: string) => void): Promise<RawPhase> {
  const perRequest = opts["per-request"];
  const requests = Math.ceil(opts.instances / perRequest);
  log(`building ${requests * perRequest} instances of ${opts["instance-kib"]} KiB (+ warm-up)...`);
  const pixels = pixelData(opts["instance-kib"] * 1024);
  const batches = buildRequests(requests, perRequest, pixels);
  const warmup = buildRequests(Math.min(2 * opts.clients, requests), perRequest, pixels);
  const sent = batches.flat();

  const service = await stack.startService(serviceEnv, nodeArgs);
  let serviceMs = 0;
  let rawMs = 0;
  const serviceLatencies: number[] = [];
  const rawLatencies: number[] = [];
  let servicePeak;
  let s3Calls: Record<string, number> = {};
  const rawCpu: Record<string, number> = {};
  const serviceCpu: Record<string, number> = {};
  const addCpu = (into: Record<string, number>, from: Record<string, number>) => {
    for (const [k, v] of Object.entries(from)) into[k] = round((into[k] ?? 0) + v, 2);
  };
  try {
    log("warming up both paths...");
    await putStraight(stack, warmup, opts.clients, null);
    await postThroughService(service.url, warmup, opts.clients, null, problems);
    // Rounds alternate which path goes first, so that drift (JIT, page cache, disk writeback) hits both alike.
    const rounds = Math.min(opts.rounds, batches.length);
    for (let r = 0; r < rounds; r++) {
      const slice = batches.slice(Math.floor((r * batches.length) / rounds), Math.floor(((r + 1) * batches.length) / rounds));
      const raw = async () => {
        log(`round ${r + 1}/${rounds}: PUT straight into the store, ${slice.length * perRequest} objects, ${opts.clients} clients...`);
        const meter = cpuMeter({ client: undefined, store: stack.storePid });
        rawMs += await putStraight(stack, slice, opts.clients, rawLatencies);
        addCpu(rawCpu, meter());
      };
      const viaService = async () => {
        log(`round ${r + 1}/${rounds}: POST /studies, ${slice.length} requests x ${perRequest} instances, ${opts.clients} clients...`);
        const meter = cpuMeter({ client: undefined, service: service.pid, store: stack.storePid });
        serviceMs += await postThroughService(service.url, slice, opts.clients, serviceLatencies, problems);
        addCpu(serviceCpu, meter());
      };
      if (r % 2 === 0) {
        await raw();
        await viaService();
      } else {
        await viaService();
        await raw();
      }
    }
    servicePeak = readProcessMemory(service.pid);
    s3Calls = await s3CallsOf(service.url);
  } finally {
    await stack.stopService(service);
  }

  log("reading every stored instance back...");
  const check = await verifyStored(stack.s3, stack.bucket, sent.map((i) => ({ key: i.key, size: i.bytes.length, sha256: i.sha256 })));
  for (const key of check.missing) problems.push(`not in the store: ${key}`);
  for (const key of check.wrong) problems.push(`stored bytes differ from the bytes sent: ${key}`);
  return {
    service: { ...throughput(serviceMs, sent, serviceLatencies), requests, peakRssMiB: round(mib(servicePeak.peakRss)), cpuSeconds: serviceCpu, s3Calls },
    rawPut: { ...throughput(rawMs, sent, rawLatencies), puts: sent.length, cpuSeconds: rawCpu },
    verified: { checked: check.checked, missing: check.missing.length, wrong: check.wrong.length },
  };
}

function peerSizes(opts: IngestOptions): number[] {
  const sizes = opts["peer-sizes"].split(",").map((s) => s.trim());
  if (sizes.some((s) => !/^\d+$/.test(s) || Number(s) < 1)) throw new OptionError(`--peer-sizes (BENCH_PEER_SIZES): expected KiB values such as 64,256,1024, got "${opts["peer-sizes"]}"`);
  return sizes.map(Number);
}

export async function runIngest(opts: IngestOptions, log: (line: string) => void = () => undefined): Promise<IngestResult> {
  const problems: string[] = [];
  const perRequest = opts["per-request"];
  const requests = Math.ceil(opts.instances / perRequest);
  const serviceEnv = serviceSettingsFromEnv();
  const nodeArgs = opts["service-node-args"].split(/\s+/).filter(Boolean);
  const sizes = opts.peer ? peerSizes(opts) : [];
  const settings = {
    service: serviceCommand(opts.compiled),
    ...(opts["skip-raw"]
      ? { rawPhase: false }
      : { instances: requests * perRequest, instanceKiB: opts["instance-kib"], perRequest, requests, clients: opts.clients, rounds: Math.min(opts.rounds, requests) }),
    bigMiB: opts["skip-big"] ? 0 : opts["big-mib"],
    storeConditionalWrites: opts["store-conditional-writes"],
    ...(opts.peer
      ? { peer: opts.peer, peerSizesKiB: sizes.join(","), peerMiBPerSize: opts["peer-mib"], peerClients: opts["peer-clients"], peerPerRequest: opts["peer-per-request"] }
      : {}),
    ...(opts["profile-dir"] ? { profileDir: opts["profile-dir"] } : {}),
    ...(opts["service-node-args"] ? { serviceNodeArgs: opts["service-node-args"] } : {}),
    ...effectiveServiceSettings(serviceEnv),
  };

  const stack = await startStack({ compiled: opts.compiled, conditionalWrites: opts["store-conditional-writes"] });
  try {
    const raw = opts["skip-raw"] ? null : await rawPhase(stack, opts, serviceEnv, nodeArgs, problems, log);

    let peer: PeerResult | null = null;
    if (opts.peer) {
      peer = await runPeerComparison(
        {
          sizesKiB: sizes,
          mibPerSize: opts["peer-mib"],
          clients: opts["peer-clients"],
          perRequest: opts["peer-per-request"],
          serviceEnv,
          nodeArgs,
          profileDir: opts["profile-dir"] || undefined,
        },
        (env, args) => stack.startService(env, args),
        (service) => stack.stopService(service),
        problems,
        log,
      );
    }

    const bigs: Partial<Record<BigInstanceForm, BigResult>> = {};
    if (!opts["skip-big"]) {
      for (const form of BIG_INSTANCE_FORMS) {
        log(`streaming one ${opts["big-mib"]} MiB instance (${form}) through a fresh service...`);
        bigs[form] = await bigPhase(stack, opts["big-mib"], serviceEnv, problems, form);
      }
    }
    const big = bigs.multipart ?? null;
    const bigSinglePart = bigs["single-part"] ?? null;

    const ratio = raw ? round(raw.service.mibPerSecond / raw.rawPut.mibPerSecond, 2) : null;
    const targets: IngestResult["targets"] = {};
    if (ratio !== null) targets.ratio = { target: `ingest/raw ratio >= ${TARGETS.ratio}`, pass: ratio >= TARGETS.ratio };
    if (big) targets.bigPeakRss = { target: `peak RSS for one ${big.sizeMiB} MiB instance <= ${TARGETS.bigPeakRssMiB} MiB`, pass: big.peakRssMiB <= TARGETS.bigPeakRssMiB };
    if (bigSinglePart) {
      targets.bigSinglePartPeakRss = {
        target: `peak RSS for one ${bigSinglePart.sizeMiB} MiB single-part instance <= ${TARGETS.bigPeakRssMiB} MiB`,
        pass: bigSinglePart.peakRssMiB <= TARGETS.bigPeakRssMiB,
      };
    }
    for (const size of peer?.sizes ?? []) {
      targets[`peer${size.instanceKiB}KiB`] = {
        target: `service CPU per ${size.instanceKiB} KiB instance <= ${size.target}x Orthanc's`,
        pass: size.ratio <= size.target,
      };
    }
    return {
      bench: "ingest",
      settings,
      service: raw?.service ?? null,
      rawPut: raw?.rawPut ?? null,
      ratio,
      big,
      bigSinglePart,
      verified: raw?.verified ?? null,
      peer,
      targets,
      problems,
    };
  } finally {
    await stack.stop();
  }
}

export function ingestRows(r: IngestResult): Row[] {
  const rows: Row[] = [];
  const s = r.service;
  const raw = r.rawPut;
  if (s && raw && r.verified) {
    rows.push(
      { figure: "service ingest", value: `${s.mibPerSecond} MiB/s` },
      { figure: "service ingest", value: `${s.instancesPerSecond} inst/s` },
      { figure: "raw PutObject", value: `${raw.mibPerSecond} MiB/s` },
      { figure: "raw PutObject", value: `${raw.instancesPerSecond} inst/s` },
      { figure: "ratio service/raw", value: String(r.ratio), target: `>= ${TARGETS.ratio}`, pass: r.targets.ratio!.pass },
      { figure: `service request p50 (${r.settings.perRequest} inst)`, value: `${s.p50Ms} ms` },
      { figure: `service request p99 (${r.settings.perRequest} inst)`, value: `${s.p99Ms} ms` },
      { figure: "raw PutObject p50 (1 inst)", value: `${raw.p50Ms} ms` },
      { figure: "raw PutObject p99 (1 inst)", value: `${raw.p99Ms} ms` },
      { figure: "CPU s, raw phase (client/store)", value: `${raw.cpuSeconds.client} / ${raw.cpuSeconds.store}` },
      { figure: "CPU s, service phase (client/service/store)", value: `${s.cpuSeconds.client} / ${s.cpuSeconds.service} / ${s.cpuSeconds.store}` },
      { figure: "service peak RSS, ingest phase", value: `${s.peakRssMiB} MiB` },
      {
        figure: "service's S3 calls (warm-up included)",
        value: Object.entries(s.s3Calls)
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([op, n]) => `${op} ${n}`)
          .join(", "),
      },
      { figure: "instances read back byte-exact", value: `${r.verified.checked - r.verified.missing - r.verified.wrong}/${s.instances}` },
    );
  }
  for (const size of r.peer?.sizes ?? []) {
    const k = `${size.instanceKiB} KiB x ${size.instances}`;
    const cpu = (f: ServerFigures) => `${f.cpuSecondsPerGiB} s/GiB, ${f.cpuMsPerInstance} ms/inst`;
    rows.push(
      { figure: `${k}: service CPU`, value: cpu(size.service) },
      { figure: `${k}: Orthanc CPU`, value: cpu(size.orthanc) },
      { figure: `${k}: CPU ratio service/Orthanc`, value: String(size.ratio), target: `<= ${size.target}`, pass: r.targets[`peer${size.instanceKiB}KiB`]!.pass },
      { figure: `${k}: inst/s service / Orthanc`, value: `${size.service.instancesPerSecond} / ${size.orthanc.instancesPerSecond}` },
      { figure: `${k}: MiB/s service / Orthanc`, value: `${size.service.mibPerSecond} / ${size.orthanc.mibPerSecond}` },
      { figure: `${k}: CPU s null sink; clients (svc / Orthanc)`, value: `${size.service.sinkCpuSeconds}; ${size.service.clientCpuSeconds} / ${size.orthanc.clientCpuSeconds}` },
    );
  }
  if (r.peer) {
    rows.push({ figure: "null sink requests (all sizes, warm-ups)", value: Object.entries(r.peer.sinkOperations).map(([op, n]) => `${op} ${n}`).join(", ") });
  }
  if (r.big) {
    rows.push(
      { figure: `${r.big.sizeMiB} MiB instance: peak RSS`, value: `${r.big.peakRssMiB} MiB`, target: `<= ${TARGETS.bigPeakRssMiB} MiB`, pass: r.targets.bigPeakRss!.pass },
      { figure: `${r.big.sizeMiB} MiB instance: idle RSS before`, value: `${r.big.idlePeakRssMiB} MiB` },
      { figure: `${r.big.sizeMiB} MiB instance: throughput`, value: `${r.big.mibPerSecond} MiB/s` },
      { figure: `${r.big.sizeMiB} MiB instance: service CPU`, value: `${r.big.serviceCpuSeconds} s (${round(r.big.serviceCpuSeconds / (r.big.sizeMiB / 1024), 2)} s/GiB)` },
      { figure: `${r.big.sizeMiB} MiB instance: size + sha256`, value: r.big.bytesMatch ? "match" : "MISMATCH" },
    );
  }
  if (r.bigSinglePart) {
    const b = r.bigSinglePart;
    rows.push(
      { figure: `${b.sizeMiB} MiB single-part: peak RSS`, value: `${b.peakRssMiB} MiB`, target: `<= ${TARGETS.bigPeakRssMiB} MiB`, pass: r.targets.bigSinglePartPeakRss!.pass },
      { figure: `${b.sizeMiB} MiB single-part: idle RSS before`, value: `${b.idlePeakRssMiB} MiB` },
      { figure: `${b.sizeMiB} MiB single-part: throughput`, value: `${b.mibPerSecond} MiB/s` },
      { figure: `${b.sizeMiB} MiB single-part: service CPU`, value: `${b.serviceCpuSeconds} s (${round(b.serviceCpuSeconds / (b.sizeMiB / 1024), 2)} s/GiB)` },
      { figure: `${b.sizeMiB} MiB single-part: size + sha256`, value: b.bytesMatch ? "match" : "MISMATCH" },
    );
  }
  return rows;
}

/** Where the service's CPU went, per size (with --profile-dir). */
function profileText(r: IngestResult): string | undefined {
  const parts = (r.peer?.sizes ?? [])
    .filter((s) => s.profile)
    .map((s) => `service CPU profile, ${s.instanceKiB} KiB instances (${s.profile!.file}, measured rounds only):\n${formatStages(s.profile!.breakdown, s.instances, 12)}`);
  return parts.length ? parts.join("\n\n") : undefined;
}

export function printIngest(r: IngestResult, command: string, out: (s: string) => void): void {
  printReport(out, command, r, ingestRows(r), profileText(r));
}

/** Orthanc binds every interface: the whole benchmark runs again inside a loopback-only network namespace. */
async function rerunInNamespace(): Promise<never> {
  if (process.getuid?.() !== 0) {
    process.stderr.write("--peer orthanc runs Orthanc in a network namespace of its own, which needs root\n");
    process.exit(1);
  }
  const ns = createLoopbackNamespace(`stowrs-bench-${process.pid}`);
  const child = spawn("ip", ["netns", "exec", ns.name, process.execPath, ...process.execArgv, process.argv[1]!, ...process.argv.slice(2)], {
    stdio: "inherit",
    env: { ...process.env, BENCH_NETNS: ns.name },
  });
  const forward = (signal: NodeJS.Signals) => child.kill(signal);
  process.on("SIGINT", forward);
  process.on("SIGTERM", forward);
  const code = await new Promise<number>((resolve) => child.once("exit", (c, signal) => resolve(c ?? (signal ? 130 : 1))));
  ns.remove();
  process.exit(code);
}

if (isMain(import.meta.url)) {
  let peer = "";
  try {
    const parsed = parseOptions(INGEST_OPTIONS);
    peer = parsed.peer;
    if (parsed.task) taskSettings(parsed);
  } catch (err) {
    // A bad value (a --task price or size included) is refused before anything starts, as runCli refuses flags.
    process.stderr.write(`${(err as Error).message}\n${usage("npm run bench --", INGEST_OPTIONS)}\n`);
    process.exit(2);
  }
  if (peer !== "" && peer !== "orthanc") {
    process.stderr.write(`--peer (BENCH_PEER): the only peer is orthanc, got "${peer}"\n`);
    process.exit(2);
  }
  if (peer && !process.env.BENCH_NETNS) await rerunInNamespace();
  await runCli("npm run bench --", INGEST_OPTIONS, async (opts) => {
    const command = commandLine("bench");
    if (opts.task) {
      const report = await runTask(opts, (line) => process.stderr.write(`${line}\n`));
      printReport((s) => process.stdout.write(s + "\n"), command, report, taskRows(report));
      return report;
    }
    const result = await runIngest(opts, (line) => process.stderr.write(`${line}\n`));
    printIngest(result, command, (s) => process.stdout.write(s + "\n"));
    return result;
  });
}
