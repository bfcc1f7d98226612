// The options, the run and the report of `npm run bench -- --task` (lib/task.ts measures).
import { OptionError, type OptionValues } from "./options.js";
import type { Row, Verdict } from "./report.js";
import { effectiveServiceSettings, serviceSettingsFromEnv } from "./stack.js";
import { DEFAULT_PRICES, runTaskBench, TASK_AUTHS, TB, type Prices, type TaskAuth, type TaskResult } from "./task.js";

export const TASK_OPTIONS = {
  task: {
    kind: "bool",
    env: "BENCH_TASK",
    default: false,
    help: "instead of the other phases: the requests through the task as deployed (nginx TLS/mTLS front, the app storing over HTTPS), the task's CPU per GiB and its cost per TB",
  },
  "task-sizes": { kind: "string", env: "BENCH_TASK_SIZES", default: "64,256,1024", help: "instance sizes of --task, KiB" },
  "task-mib": { kind: "int", env: "BENCH_TASK_MIB", default: 128, min: 1, help: "MiB of instances measured per size with --task" },
  "task-clients": { kind: "int", env: "BENCH_TASK_CLIENTS", default: 4, min: 1, help: "concurrent clients with --task" },
  "task-per-request": { kind: "int", env: "BENCH_TASK_PER_REQUEST", default: 8, min: 1, help: "instances per request with --task" },
  "task-auth": { kind: "string", env: "BENCH_TASK_AUTH", default: "clientauth", help: "the front's AUTH_MODE with --task: clientauth (mutual TLS) or anonymous (TLS)" },
  "vcpu-hour-usd": { kind: "string", env: "BENCH_VCPU_HOUR_USD", default: String(DEFAULT_PRICES.vcpuHour), help: "Fargate price per vCPU-hour, USD (default: Linux/x86, us-east-1)" },
  "s3-put-usd-per-1000": { kind: "string", env: "BENCH_S3_PUT_USD_PER_1000", default: String(DEFAULT_PRICES.s3ClassAPer1000), help: "S3 PUT/COPY/POST/LIST price per 1,000 requests, USD" },
  "s3-get-usd-per-1000": { kind: "string", env: "BENCH_S3_GET_USD_PER_1000", default: String(DEFAULT_PRICES.s3ClassBPer1000), help: "S3 GET/HEAD (and other) price per 1,000 requests, USD" },
} as const;

type TaskOptionValues = OptionValues<typeof TASK_OPTIONS>;

export interface TaskReport extends TaskResult {
  bench: "task";
  settings: Record<string, string | number | boolean>;
  targets: Record<string, Verdict | undefined>;
  problems: string[];
}

function price(opts: TaskOptionValues, name: "vcpu-hour-usd" | "s3-put-usd-per-1000" | "s3-get-usd-per-1000"): number {
  const v = Number(opts[name]);
  if (!/^\d+(\.\d+)?$/.test(opts[name]) || !(v > 0)) throw new OptionError(`--${name}: expected a positive price in USD such as 0.04048, got "${opts[name]}"`);
  return v;
}

export function taskSettings(opts: TaskOptionValues): { sizesKiB: number[]; auth: TaskAuth; prices: Prices } {
  const sizes = opts["task-sizes"].split(",").map((s) => s.trim());
  if (sizes.some((s) => !/^\d+$/.test(s) || Number(s) < 1)) throw new OptionError(`--task-sizes (BENCH_TASK_SIZES): expected KiB values such as 64,256,1024, got "${opts["task-sizes"]}"`);
  const auth = opts["task-auth"] as TaskAuth;
  if (!TASK_AUTHS.includes(auth)) throw new OptionError(`--task-auth (BENCH_TASK_AUTH): expected ${TASK_AUTHS.join(" or ")}, got "${opts["task-auth"]}"`);
  return {
    sizesKiB: sizes.map(Number),
    auth,
    prices: { vcpuHour: price(opts, "vcpu-hour-usd"), s3ClassAPer1000: price(opts, "s3-put-usd-per-1000"), s3ClassBPer1000: price(opts, "s3-get-usd-per-1000") },
  };
}

export async function runTask(opts: TaskOptionValues, log: (line: string) => void = () => undefined): Promise<TaskReport> {
  const { sizesKiB, auth, prices } = taskSettings(opts);
  const serviceEnv = serviceSettingsFromEnv();
  const problems: string[] = [];
  const result = await runTaskBench(
    { sizesKiB, mibPerSize: opts["task-mib"], clients: opts["task-clients"], perRequest: opts["task-per-request"], auth, prices, serviceEnv },
    problems,
    log,
  );
  return {
    bench: "task",
    settings: {
      task: `nginx front (${auth === "clientauth" ? "mutual TLS" : "TLS"}, certificates from the bucket) -> app (compiled) -> embedded store over HTTPS`,
      sizesKiB: sizesKiB.join(","),
      mibPerSize: opts["task-mib"],
      clients: opts["task-clients"],
      perRequest: opts["task-per-request"],
      vcpuHourUsd: prices.vcpuHour,
      s3PutUsdPer1000: prices.s3ClassAPer1000,
      s3GetUsdPer1000: prices.s3ClassBPer1000,
      TB: `${TB} bytes`,
      ...effectiveServiceSettings(serviceEnv),
    },
    ...result,
    targets: {},
    problems,
  };
}

export function taskRows(r: TaskReport): Row[] {
  const rows: Row[] = [];
  for (const s of r.sizes) {
    const k = `${s.instanceKiB} KiB x ${s.instances}`;
    rows.push(
      { figure: `${k}: task CPU per GiB (app + nginx)`, value: `${s.cpuSecondsPerGiB.task} s (${s.cpuSecondsPerGiB.app} + ${s.cpuSecondsPerGiB.nginx})` },
      { figure: `${k}: vCPU-hours per TB`, value: String(s.vcpuHoursPerTB) },
      { figure: `${k}: Fargate compute per TB`, value: `$${s.fargateUsdPerTB.toFixed(3)}` },
      { figure: `${k}: S3 requests per instance`, value: `${s.s3RequestsPerInstance} (${Object.entries(s.s3Calls).map(([op, n]) => `${op} ${n}`).join(", ")})` },
      { figure: `${k}: S3 requests per TB`, value: `$${s.s3UsdPerTB.toFixed(2)}` },
      { figure: `${k}: throughput through the front`, value: `${s.mibPerSecond} MiB/s` },
    );
  }
  return rows;
}
