// `npm run bench:load`: sustained load from many clients sending small multi-instance requests,
// then every acknowledged instance read back; and an overload phase against a small
// MAX_INSTANCES_IN_FLIGHT, where the service must shed load with 503 + Retry-After.
import { Agent, get } from "node:http";
import { multipartChunks } from "../app/test/support/multipart.js";
import { errorDocument, failedItems, otherReasons, referencedUids } from "../app/test/support/store-response.js";
import { postStow, type StowReply } from "../app/test/support/stow-client.js";
import { commandLine, isMain, runCli } from "./lib/cli.js";
import { BOUNDARY, buildRequests, pixelData } from "./lib/instances.js";
import { readProcessMemory } from "./lib/memory.js";
import type { OptionValues } from "./lib/options.js";
import { printReport, type Row, type Verdict } from "./lib/report.js";
import { effectiveServiceSettings, serviceCommand, serviceSettingsFromEnv, startStack } from "./lib/stack.js";
import { mib, percentile, round } from "./lib/stats.js";
import { verifyStored, type Expected } from "./lib/verify.js";
import { repeatFor } from "./lib/workers.js";

export const LOAD_OPTIONS = {
  clients: { kind: "int", env: "BENCH_CLIENTS", default: 16, min: 1, help: "concurrent clients, sustained phase" },
  seconds: { kind: "int", env: "BENCH_SECONDS", default: 30, min: 1, help: "duration of the sustained phase" },
  "per-request": { kind: "int", env: "BENCH_PER_REQUEST", default: 4, min: 1, help: "instances per STOW-RS request" },
  "instance-kib": { kind: "int", env: "BENCH_INSTANCE_KIB", default: 64, min: 1, help: "size of each instance, KiB" },
  "overload-clients": { kind: "int", env: "BENCH_OVERLOAD_CLIENTS", default: 48, min: 1, help: "concurrent clients, overload phase" },
  "overload-seconds": { kind: "int", env: "BENCH_OVERLOAD_SECONDS", default: 10, min: 1, help: "duration of the overload phase" },
  "overload-max-in-flight": { kind: "int", env: "BENCH_OVERLOAD_MAX_IN_FLIGHT", default: 4, min: 1, help: "MAX_INSTANCES_IN_FLIGHT of the overloaded service" },
  "skip-overload": { kind: "bool", env: "BENCH_SKIP_OVERLOAD", default: false, help: "leave out the overload phase" },
  "service-node-args": {
    kind: "string",
    env: "BENCH_SERVICE_NODE_ARGS",
    default: "",
    help: 'extra node flags for the service processes, e.g. --service-node-args="--cpu-prof --cpu-prof-dir=/tmp/prof"',
  },
  compiled: { kind: "bool", env: "BENCH_COMPILED", default: true, help: "run the service compiled with tsc, as npm start and the container do (BENCH_COMPILED=0: through tsx)" },
} as const;

export type LoadOptions = OptionValues<typeof LOAD_OPTIONS>;

export const LOAD_TARGETS = { peakRssMiB: 300 } as const;

interface Tally {
  requests: number;
  seconds: number;
  /** Instances acknowledged in ReferencedSOPSequence. */
  instances: number;
  /** Count of responses by HTTP status. */
  statuses: Record<string, number>;
  /** Requests that got no HTTP answer at all, by error code (EPIPE, ECONNRESET, ...). */
  noAnswer: number;
  noAnswerCodes: Record<string, number>;
  p50Ms: number;
  p99Ms: number;
  peakRssMiB: number;
}

export interface LoadResult {
  bench: "load";
  settings: Record<string, string | number | boolean>;
  sustained: Tally & { errors: number; requestsPerSecond: number; instancesPerSecond: number; mibPerSecond: number };
  overload: null | (Tally & { maxInstancesInFlight: number; rejected503WithRetryAfter: number; rejected503WithoutRetryAfter: number; other5xx: number; aliveAfter: boolean });
  verified: { acknowledged: number; checked: number; missing: number; wrong: number };
  targets: Record<string, Verdict>;
  problems: string[];
}

/** What is kept of each answer (not the UIDs: a long run would hold them all). */
interface Answer {
  status: number;
  retryAfter?: string;
  /** Every instance of the request acknowledged. */
  complete: boolean;
  error?: string;
}

interface Hammer {
  tally: Tally;
  answers: Answer[];
}

/** Clients send fresh requests (unique UIDs) back to back for `seconds`; every acknowledged instance goes into `acked`. */
async function hammer(url: string, pid: number, clients: number, seconds: number, perRequest: number, pixels: Buffer, acked: Expected[], errors: string[]): Promise<Hammer> {
  const agent = new Agent({ keepAlive: true, maxSockets: clients });
  const latencies: number[] = [];
  const answers: Answer[] = [];
  const statuses: Record<string, number> = {};
  let noAnswer = 0;
  const noAnswerCodes: Record<string, number> = {};
  let instances = 0;
  try {
    const ms = await repeatFor(seconds * 1000, clients, async () => {
      const [batch] = buildRequests(1, perRequest, pixels);
      let reply: StowReply;
      try {
        reply = await postStow(url, multipartChunks(batch!.map((i) => i.bytes), BOUNDARY), BOUNDARY, { agent });
      } catch (err) {
        noAnswer += 1;
        const code = (err as NodeJS.ErrnoException).code ?? "other";
        noAnswerCodes[code] = (noAnswerCodes[code] ?? 0) + 1;
        errors.push(`no answer: ${(err as Error).message}`);
        return;
      }
      latencies.push(reply.ms);
      statuses[reply.status] = (statuses[reply.status] ?? 0) + 1;
      const stored = new Set(referencedUids(reply.json));
      const retryAfter = reply.headers.get("retry-after") ?? undefined;
      answers.push({ status: reply.status, retryAfter, complete: stored.size === batch!.length, error: errorDocument(reply) ?? failures(reply) });
      for (const inst of batch!) {
        if (stored.has(inst.sopInstanceUid)) acked.push({ key: inst.key, size: inst.bytes.length, sha256: inst.sha256 });
      }
      instances += stored.size;
    });
    return {
      tally: {
        requests: latencies.length + noAnswer,
        seconds: round(ms / 1000, 2),
        instances,
        statuses,
        noAnswer,
        noAnswerCodes,
        p50Ms: round(percentile(latencies, 50)),
        p99Ms: round(percentile(latencies, 99)),
        peakRssMiB: round(mib(readProcessMemory(pid).peakRss)),
      },
      answers,
    };
  } finally {
    agent.destroy();
  }
}

function failures(reply: StowReply): string | undefined {
  const failed = failedItems(reply.json);
  const others = otherReasons(reply.json).length;
  if (!failed.length && !others) return undefined;
  return `failed ${failed.map((f) => `0x${f.reason.toString(16)}`).join(",")}; other failures ${others}`;
}

function getStatus(url: string): Promise<number> {
  return new Promise((resolve) => {
    get(url, { agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    }).on("error", () => resolve(0));
  });
}

export async function runLoad(opts: LoadOptions, log: (line: string) => void = () => undefined): Promise<LoadResult> {
  const problems: string[] = [];
  const perRequest = opts["per-request"];
  const serviceEnv = serviceSettingsFromEnv();
  const overloadEnv = { ...serviceEnv, MAX_INSTANCES_IN_FLIGHT: String(opts["overload-max-in-flight"]) };
  const settings: Record<string, string | number | boolean> = {
    service: serviceCommand(opts.compiled),
    clients: opts.clients,
    seconds: opts.seconds,
    perRequest,
    instanceKiB: opts["instance-kib"],
    ...effectiveServiceSettings(serviceEnv),
    ...(opts["service-node-args"] ? { serviceNodeArgs: opts["service-node-args"] } : {}),
    ...(opts["skip-overload"]
      ? {}
      : { overloadClients: opts["overload-clients"], overloadSeconds: opts["overload-seconds"], overloadMaxInstancesInFlight: opts["overload-max-in-flight"] }),
  };
  const nodeArgs = opts["service-node-args"].split(/\s+/).filter(Boolean);
  const pixels = pixelData(opts["instance-kib"] * 1024);
  const acked: Expected[] = [];
  const stack = await startStack({ compiled: opts.compiled });
  try {
    log(`sustained load: ${opts.clients} clients for ${opts.seconds} s, ${perRequest} x ${opts["instance-kib"]} KiB per request...`);
    const service = await stack.startService(serviceEnv, nodeArgs);
    const errors: string[] = [];
    let sustained: Hammer;
    try {
      sustained = await hammer(service.url, service.pid, opts.clients, opts.seconds, perRequest, pixels, acked, errors);
    } finally {
      await stack.stopService(service);
    }
    const notOk = sustained.answers.filter((r) => r.status !== 200 || !r.complete);
    for (const r of notOk.slice(0, 5)) errors.push(`status ${r.status}: ${r.error ?? "not every instance acknowledged"}`);
    const errorCount = notOk.length + sustained.tally.noAnswer;
    if (errorCount) problems.push(`sustained load: ${errorCount} request(s) not fully stored`, ...errors.slice(0, 5));
    const sustainedBytes = sustained.tally.instances * (acked[0]?.size ?? 0);

    let overload: LoadResult["overload"] = null;
    if (!opts["skip-overload"]) {
      log(`overload: ${opts["overload-clients"]} clients for ${opts["overload-seconds"]} s against MAX_INSTANCES_IN_FLIGHT=${opts["overload-max-in-flight"]}...`);
      const svc = await stack.startService(overloadEnv, nodeArgs);
      try {
        // A request that got no answer is a target missed, not a broken promise: nothing was acknowledged.
        const over = await hammer(svc.url, svc.pid, opts["overload-clients"], opts["overload-seconds"], perRequest, pixels, acked, []);
        const with503 = over.answers.filter((r) => r.status === 503);
        const other5xx = over.answers.filter((r) => r.status >= 500 && r.status !== 503).length;
        const otherStatus = over.answers.filter((r) => r.status !== 200 && r.status !== 503);
        // Once the pressure is gone, the same process must serve normally.
        const [after] = buildRequests(1, perRequest, pixels);
        const afterReply = await postStow(svc.url, multipartChunks(after!.map((i) => i.bytes), BOUNDARY), BOUNDARY, { agent: new Agent() });
        const afterStored = referencedUids(afterReply.json);
        const aliveAfter = (await getStatus(`${svc.url}/health`)) === 200 && afterReply.status === 200 && afterStored.length === perRequest;
        for (const inst of after!) if (afterStored.includes(inst.sopInstanceUid)) acked.push({ key: inst.key, size: inst.bytes.length, sha256: inst.sha256 });
        overload = {
          ...over.tally,
          maxInstancesInFlight: opts["overload-max-in-flight"],
          rejected503WithRetryAfter: with503.filter((r) => r.retryAfter !== undefined).length,
          rejected503WithoutRetryAfter: with503.filter((r) => r.retryAfter === undefined).length,
          other5xx,
          aliveAfter,
        };
        if (other5xx) problems.push(`overload: ${other5xx} answer(s) with a 5xx other than 503`);
        for (const r of otherStatus.filter((r) => r.status < 500).slice(0, 5)) problems.push(`overload: unexpected status ${r.status}: ${r.error ?? ""}`);
        if (!aliveAfter) problems.push(`overload: the service did not serve normally afterwards (request status ${afterReply.status})`);
      } finally {
        await stack.stopService(svc);
      }
    }

    log(`reading all ${acked.length} acknowledged instances back...`);
    const check = await verifyStored(stack.s3, stack.bucket, acked);
    for (const key of check.missing) problems.push(`acknowledged but not in the store: ${key}`);
    for (const key of check.wrong) problems.push(`acknowledged but stored bytes differ: ${key}`);

    const s = sustained.tally;
    const targets: Record<string, Verdict> = {
      sustainedErrors: { target: "sustained load: 0 errors", pass: errorCount === 0 },
      sustainedRss: { target: `sustained load: peak RSS <= ${LOAD_TARGETS.peakRssMiB} MiB`, pass: s.peakRssMiB <= LOAD_TARGETS.peakRssMiB },
      acknowledgedStored: { target: "every acknowledged instance in the store byte-exact", pass: check.missing.length === 0 && check.wrong.length === 0 },
    };
    if (overload) {
      targets.overload503 = { target: "overload: 503 with Retry-After, no 503 without it", pass: overload.rejected503WithRetryAfter > 0 && overload.rejected503WithoutRetryAfter === 0 };
      targets.overloadNo5xx = { target: "overload: no 5xx other than 503", pass: overload.other5xx === 0 };
      targets.overloadAnswered = { target: "overload: every request gets an HTTP answer (no EPIPE/ECONNRESET)", pass: overload.noAnswer === 0 };
      targets.overloadRss = { target: `overload: peak RSS <= ${LOAD_TARGETS.peakRssMiB} MiB`, pass: overload.peakRssMiB <= LOAD_TARGETS.peakRssMiB };
      targets.overloadAlive = { target: "overload: service serves normally afterwards", pass: overload.aliveAfter };
    }
    return {
      bench: "load",
      settings,
      sustained: {
        ...s,
        errors: errorCount,
        requestsPerSecond: round(s.requests / s.seconds),
        instancesPerSecond: round(s.instances / s.seconds),
        mibPerSecond: round(mib(sustainedBytes) / s.seconds),
      },
      overload,
      verified: { acknowledged: acked.length, checked: check.checked, missing: check.missing.length, wrong: check.wrong.length },
      targets,
      problems,
    };
  } finally {
    await stack.stop();
  }
}

export function loadRows(r: LoadResult): Row[] {
  const s = r.sustained;
  const t = r.targets;
  const rows: Row[] = [
    { figure: "sustained: requests", value: `${s.requests} (${s.requestsPerSecond}/s)` },
    { figure: "sustained: instances stored", value: `${s.instances} (${s.instancesPerSecond}/s)` },
    { figure: "sustained: throughput", value: `${s.mibPerSecond} MiB/s` },
    { figure: "sustained: errors", value: String(s.errors), target: "0", pass: t.sustainedErrors!.pass },
    { figure: "sustained: request p50", value: `${s.p50Ms} ms` },
    { figure: "sustained: request p99", value: `${s.p99Ms} ms` },
    { figure: "sustained: peak RSS", value: `${s.peakRssMiB} MiB`, target: `<= ${LOAD_TARGETS.peakRssMiB} MiB`, pass: t.sustainedRss!.pass },
  ];
  const o = r.overload;
  if (o) {
    rows.push(
      { figure: `overload: requests (MAX_INSTANCES_IN_FLIGHT=${o.maxInstancesInFlight})`, value: String(o.requests) },
      { figure: "overload: 200 stored", value: String(o.statuses["200"] ?? 0) },
      { figure: "overload: 503 with Retry-After", value: String(o.rejected503WithRetryAfter), target: "> 0", pass: o.rejected503WithRetryAfter > 0 },
      { figure: "overload: 503 without Retry-After", value: String(o.rejected503WithoutRetryAfter), target: "0", pass: o.rejected503WithoutRetryAfter === 0 },
      { figure: "overload: other 5xx", value: String(o.other5xx), target: "0", pass: o.other5xx === 0 },
      {
        figure: "overload: no HTTP answer",
        value: `${o.noAnswer}${o.noAnswer ? ` (${Object.entries(o.noAnswerCodes).map(([c, n]) => `${c} ${n}`).join(", ")})` : ""}`,
        target: "0",
        pass: o.noAnswer === 0,
      },
      { figure: "overload: request p50 / p99", value: `${o.p50Ms} / ${o.p99Ms} ms` },
      { figure: "overload: peak RSS", value: `${o.peakRssMiB} MiB`, target: `<= ${LOAD_TARGETS.peakRssMiB} MiB`, pass: t.overloadRss!.pass },
      { figure: "overload: serves normally afterwards", value: o.aliveAfter ? "yes" : "no", target: "yes", pass: o.aliveAfter },
    );
  }
  rows.push({
    figure: "acknowledged instances read back byte-exact",
    value: `${r.verified.checked - r.verified.missing - r.verified.wrong}/${r.verified.acknowledged}`,
    target: "all",
    pass: t.acknowledgedStored!.pass,
  });
  return rows;
}

export function printLoad(r: LoadResult, command: string, out: (s: string) => void): void {
  printReport(out, command, r, loadRows(r));
}

if (isMain(import.meta.url)) {
  await runCli("npm run bench:load --", LOAD_OPTIONS, async (opts) => {
    const command = commandLine("bench:load");
    const result = await runLoad(opts, (line) => process.stderr.write(`${line}\n`));
    printLoad(result, command, (s) => process.stdout.write(s + "\n"));
    return result;
  });
}
