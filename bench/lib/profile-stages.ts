// Where a service process spends its CPU, by stage of the store path, from a V8 .cpuprofile
// (node --cpu-prof). Each sample goes to the innermost frame on its stack that belongs to a
// known stage (by script URL, then function name); so the SHA-256 update called from the upload
// code counts as "hash", and the S3 SDK's XML parser as "S3 client". Samples with no such frame
// are split by what is at the bottom: GC, V8 without a JS frame, or other.
import { readFileSync } from "node:fs";

export const STAGES = [
  "HTTP (inbound)",
  "multipart",
  "header",
  "hash",
  "S3 client",
  "store path",
  "response",
  "logging",
  "metrics",
  "streams (unattributed)",
  "GC",
  "V8/native (no JS frame)",
  "other",
] as const;
export type Stage = (typeof STAGES)[number];

interface CallFrame {
  functionName: string;
  url: string;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** Rules, first match wins, tried on each frame from the innermost outwards. */
const RULES: Array<[Stage, (f: CallFrame) => boolean]> = [
  ["hash", (f) => f.url.includes("internal/crypto/hash")],
  ["header", (f) => /\/dicom\/|\/dcmjs\//.test(f.url)],
  ["multipart", (f) => /\/multipart\/|\/stow\/body-source/.test(f.url)],
  ["logging", (f) => /\/(pino|sonic-boom|pino-std-serializers|quick-format-unescaped|fast-redact|thread-stream)\//.test(f.url)],
  ["metrics", (f) => /\/prom-client\/|\/tdigest\/|\/bintrees\//.test(f.url)],
  ["response", (f) => /\/stow\/(response|response-xml|accept|outcome)\./.test(f.url)],
  [
    "S3 client",
    (f) =>
      /\/@aws-sdk\/|\/@smithy\/|\/@aws-crypto\/|\/fast-xml-parser\/|\/strnum\/|\/bowser\/|\/storage\/(put-object|multipart-stream)\./.test(f.url) ||
      /node:_http_client|node:_http_agent/.test(f.url),
  ],
  ["store path", (f) => /\/stow\/|\/storage\/|\/util\/semaphore|\/routes\/studies/.test(f.url)],
  ["HTTP (inbound)", (f) => /\/hono\/|\/@hono\/|node:_http_server|node:_http_incoming/.test(f.url)],
];

export interface StageBreakdown {
  /** Profiled CPU (samples that were not idle) in the window, ms. */
  totalMs: number;
  /** ms by stage. */
  stages: Record<Stage, number>;
  /** Self time by function (top entries), for digging deeper. */
  top: Array<{ stage: Stage; fn: string; ms: number }>;
}

/**
 * @param window optional [from, to] in the profile's clock (microseconds, CLOCK_MONOTONIC: the same
 *   clock as process.hrtime() in any process on the machine), to leave out start-up and warm-up.
 */
export function stagesOf(profile: CpuProfile, window?: [number, number], topN = 25): StageBreakdown {
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const n of profile.nodes) {
    byId.set(n.id, n);
    for (const c of n.children ?? []) parent.set(c, n.id);
  }
  const stageCache = new Map<number, Stage | null>();
  const stageOf = (id: number): Stage | null => {
    const cached = stageCache.get(id);
    if (cached !== undefined) return cached;
    const f = byId.get(id)!.callFrame;
    const own = RULES.find(([, test]) => test(f))?.[0] ?? null;
    const p = parent.get(id);
    const stage = own ?? (p === undefined ? null : stageOf(p));
    stageCache.set(id, stage);
    return stage;
  };
  const stages = Object.fromEntries(STAGES.map((s) => [s, 0])) as Record<Stage, number>;
  const self = new Map<string, { stage: Stage; ms: number }>();
  let t = profile.startTime;
  let totalMs = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i]!;
    // A sample stands for the time until the next one.
    const ms = (profile.timeDeltas[i + 1] ?? 0) / 1000;
    if (window && (t < window[0] || t > window[1])) continue;
    const node = byId.get(profile.samples[i]!)!;
    const fn = node.callFrame.functionName;
    if (fn === "(idle)") continue;
    let stage: Stage;
    if (fn === "(garbage collector)") stage = "GC";
    else if (fn === "(program)") stage = "V8/native (no JS frame)";
    else stage = stageOf(node.id) ?? (isStreamFrame(node, byId, parent) ? "streams (unattributed)" : "other");
    stages[stage] += ms;
    totalMs += ms;
    const name = `${fn || "(anonymous)"} ${shortUrl(node.callFrame.url)}`;
    const entry = self.get(name) ?? { stage, ms: 0 };
    entry.ms += ms;
    self.set(name, entry);
  }
  const top = [...self.entries()]
    .sort((a, b) => b[1].ms - a[1].ms)
    .slice(0, topN)
    .map(([fn, { stage, ms }]) => ({ stage, fn, ms: Math.round(ms * 10) / 10 }));
  for (const s of STAGES) stages[s] = Math.round(stages[s] * 10) / 10;
  return { totalMs: Math.round(totalMs * 10) / 10, stages, top };
}

/** Node's own stream and socket plumbing, reached from neither side's code (callbacks from libuv). */
function isStreamFrame(node: ProfileNode, byId: Map<number, ProfileNode>, parent: Map<number, number>): boolean {
  for (let id: number | undefined = node.id; id !== undefined; id = parent.get(id)) {
    if (/node:(net|stream|internal\/streams|internal\/stream_base_commons|_http_common|_http_outgoing|events)/.test(byId.get(id)!.callFrame.url)) return true;
  }
  return false;
}

function shortUrl(url: string): string {
  const i = url.lastIndexOf("node_modules/");
  if (i !== -1) return url.slice(i + 13);
  const app = url.indexOf("/app/");
  return app !== -1 ? url.slice(app + 1) : url;
}

export function readProfile(path: string): CpuProfile {
  return JSON.parse(readFileSync(path, "utf8")) as CpuProfile;
}
