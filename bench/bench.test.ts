// Keeps the benchmarks working: their code paths on tiny sizes, checked for shape and for the
// correctness checks they make (never for timings, which depend on the machine).
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { promisify } from "node:util";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { describe, expect, it } from "vitest";
import { AUTH_OPTIONS, printAuth, runAuth } from "./auth.js";
import { INGEST_OPTIONS, printIngest, runIngest } from "./ingest.js";
import { LOAD_OPTIONS, printLoad, runLoad } from "./load.js";
import { bigInstance } from "./lib/big-instance.js";
import { OptionError, parseOptions } from "./lib/options.js";
import { startStack } from "./lib/stack.js";
import { verifyStored } from "./lib/verify.js";
import { costPerTB } from "./lib/task.js";

const run = promisify(execFile);
const root = new URL("../", import.meta.url).pathname;

function printed(print: (out: (s: string) => void) => void): string[] {
  const lines: string[] = [];
  print((s) => lines.push(...s.split("\n")));
  return lines;
}

describe("ingest benchmark", () => {
  it("measures both paths, reads every instance back and streams the large instance byte-exact", async () => {
    const opts = parseOptions(INGEST_OPTIONS, ["--instances", "6", "--clients", "2", "--per-request", "2", "--rounds", "2", "--instance-kib", "64", "--big-mib", "20"], {});
    const r = await runIngest(opts);

    expect(r.problems).toEqual([]);
    expect(r.settings).toMatchObject({ instances: 6, requests: 3, clients: 2, rounds: 2, bigMiB: 20, UPLOAD_PART_SIZE_MIB: expect.any(Number) });
    expect(r.service).toMatchObject({ instances: 6, requests: 3 });
    expect(r.rawPut).toMatchObject({ instances: 6, puts: 6, bytes: r.service!.bytes });
    for (const t of [r.service!, r.rawPut!]) {
      expect(t.mibPerSecond).toBeGreaterThan(0);
      expect(t.p99Ms).toBeGreaterThanOrEqual(t.p50Ms);
    }
    expect(r.ratio).toBeGreaterThan(0);
    expect(Object.keys(r.service!.cpuSeconds).sort()).toEqual(["client", "service", "store"]);
    // The embedded store honours If-None-Match: new instances need no HEAD.
    expect(r.service!.s3Calls.PutObject).toBeGreaterThanOrEqual(6);
    expect(r.service!.s3Calls.HeadObject ?? 0).toBe(0);
    expect(r.verified).toEqual({ checked: 6, missing: 0, wrong: 0 });
    expect(r.big).toMatchObject({ form: "multipart", sizeMiB: 20, bytesMatch: true });
    expect(r.big!.peakRssMiB).toBeGreaterThanOrEqual(r.big!.idlePeakRssMiB);
    expect(r.bigSinglePart).toMatchObject({ form: "single-part", sizeMiB: 20, bytesMatch: true });
    expect(r.bigSinglePart!.peakRssMiB).toBeGreaterThanOrEqual(r.bigSinglePart!.idlePeakRssMiB);
    expect(r.targets.bigSinglePartPeakRss!.pass).toBe(r.bigSinglePart!.peakRssMiB <= 150);
    expect(r.targets.ratio!.pass).toBe(r.ratio! >= 0.9);
    expect(r.peer).toBeNull();
    expect(r.targets.bigPeakRss!.pass).toBe(r.big!.peakRssMiB <= 150);

    const lines = printed((out) => printIngest(r, "npm run bench", out));
    expect(lines[0]).toBe("command: npm run bench");
    expect(lines.some((l) => /^ratio service\/raw\s+\S+\s+>= 0\.9\s+(PASS|FAIL)$/.test(l))).toBe(true);
    expect(lines.filter((l) => /^(PASS|FAIL)  /.test(l))).toHaveLength(3);
    expect(JSON.parse(lines.at(-1)!)).toEqual(r);
  });
});

describe("load benchmark", () => {
  it("counts answers, sheds overload with 503 + Retry-After and finds every acknowledged instance", async () => {
    const opts = parseOptions(
      LOAD_OPTIONS,
      ["--clients", "4", "--seconds", "2", "--per-request", "2", "--instance-kib", "4", "--overload-clients", "12", "--overload-seconds", "2", "--overload-max-in-flight", "1"],
      {},
    );
    const r = await runLoad(opts);

    expect(r.problems).toEqual([]);
    expect(r.sustained.errors).toBe(0);
    expect(r.sustained.requests).toBeGreaterThan(0);
    expect(r.sustained.instances).toBe(2 * r.sustained.requests);
    expect(r.sustained.statuses).toEqual({ "200": r.sustained.requests });
    expect(r.sustained.peakRssMiB).toBeGreaterThan(0);
    const o = r.overload!;
    expect(o.rejected503WithRetryAfter).toBeGreaterThan(0);
    expect(o.rejected503WithoutRetryAfter).toBe(0);
    expect(o.other5xx).toBe(0);
    expect(o.aliveAfter).toBe(true);
    // Sustained + overload + the request that checks the service afterwards.
    expect(r.verified).toEqual({ acknowledged: r.sustained.instances + o.instances + 2, checked: r.verified.acknowledged, missing: 0, wrong: 0 });
    expect(r.targets.acknowledgedStored!.pass).toBe(true);

    const lines = printed((out) => printLoad(r, "npm run bench:load", out));
    expect(lines.some((l) => /^overload: 503 with Retry-After\s+\d+\s+> 0\s+PASS$/.test(l))).toBe(true);
    expect(JSON.parse(lines.at(-1)!)).toEqual(r);
  });
});

describe("auth benchmark", () => {
  it("measures the bearer guard per algorithm with a real provider's tokens, and checks a broken signature is refused", async () => {
    const r = await runAuth(parseOptions(AUTH_OPTIONS, ["--requests", "40", "--warmup", "20", "--rounds", "2"], {}));
    expect(r.problems).toEqual([]);
    expect(r.algorithms.map((a) => a.algorithm)).toEqual(["RS256", "PS256", "ES256"]);
    for (const a of r.algorithms) {
      expect(a.rounds).toHaveLength(2);
      expect(a.guardedCpuMsPerRequest).toBeGreaterThan(a.bareCpuMsPerRequest);
    }
    const lines = printed((out) => printAuth(r, "npm run bench:auth", out));
    expect(lines[0]).toBe("command: npm run bench:auth");
    expect(lines).toContainEqual(expect.stringMatching(/^(PASS|FAIL) {2}RS256 validation <= 0\.2 ms CPU per request$/));
    expect(JSON.parse(lines.at(-1)!)).toMatchObject({ bench: "auth", problems: [] });
  });
});

describe("benchmark checks", () => {
  it("verification reports objects that are missing or differ from what was sent", async () => {
    const stack = await startStack();
    try {
      const sent = Buffer.from("the bytes that were sent");
      await stack.s3.send(new PutObjectCommand({ Bucket: stack.bucket, Key: "a/changed.dcm", Body: Buffer.from("other bytes, same key") }));
      await stack.s3.send(new PutObjectCommand({ Bucket: stack.bucket, Key: "a/same.dcm", Body: sent }));
      const sha256 = createHash("sha256").update(sent).digest("hex");
      const r = await verifyStored(stack.s3, stack.bucket, [
        { key: "a/changed.dcm", size: sent.length, sha256 },
        { key: "a/same.dcm", size: sent.length, sha256 },
        { key: "a/absent.dcm", size: sent.length, sha256 },
      ]);
      expect(r).toEqual({ checked: 3, missing: ["a/absent.dcm"], wrong: ["a/changed.dcm"] });
    } finally {
      await stack.stop();
    }
  });

  it("the large instance is a valid Part 10 header followed by exactly the announced pixel bytes", async () => {
    const big = bigInstance(3 * 256 * 1024 + 1000);
    const hash = createHash("sha256");
    let size = 0;
    let first: Buffer | undefined;
    for await (const chunk of big.chunks()) {
      first ??= chunk;
      hash.update(chunk);
      size += chunk.length;
    }
    expect(size).toBe(big.size);
    expect(hash.digest("hex")).toBe(big.sha256());
    expect(first!.subarray(128, 132).toString("latin1")).toBe("DICM");
    expect(first!.readUInt32LE(first!.length - 4)).toBe(big.size - first!.length);
    expect(() => bigInstance(101)).toThrow(/even/);
  });

  it("options come from flags, then BENCH_* variables, then defaults, and bad values are refused", () => {
    const o = parseOptions(INGEST_OPTIONS, ["--clients", "3", "--skip-big"], { BENCH_CLIENTS: "5", BENCH_INSTANCES: "40" });
    expect(o).toMatchObject({ clients: 3, instances: 40, "per-request": 8, "skip-big": true });
    expect(() => parseOptions(INGEST_OPTIONS, ["--clients", "0"], {})).toThrow(OptionError);
    expect(() => parseOptions(INGEST_OPTIONS, [], { BENCH_INSTANCES: "many" })).toThrow(/BENCH_INSTANCES/);
  });

  it("the command prints settings, a table, verdicts and a JSON line, and exits 0 when nothing broke", async () => {
    const { stdout } = await run(
      process.execPath,
      ["--import", "tsx", "bench/ingest.ts", "--instances", "2", "--per-request", "1", "--clients", "1", "--rounds", "1", "--instance-kib", "16", "--skip-big"],
      { cwd: root, env: { ...process.env, UPLOAD_PART_CONCURRENCY: "2" } },
    );
    const lines = stdout.trimEnd().split("\n");
    expect(lines[0]).toBe("command: UPLOAD_PART_CONCURRENCY=2 node --import tsx bench/ingest.ts --instances 2 --per-request 1 --clients 1 --rounds 1 --instance-kib 16 --skip-big");
    expect(stdout).toMatch(/^ {2}UPLOAD_PART_CONCURRENCY\s+2$/m);
    expect(stdout).toMatch(/^(PASS|FAIL) {2}ingest\/raw ratio >= 0\.9$/m);
    expect(JSON.parse(lines.at(-1)!)).toMatchObject({ bench: "ingest", big: null, bigSinglePart: null, verified: { checked: 2, missing: 0, wrong: 0 }, problems: [] });

    await expect(run(process.execPath, ["--import", "tsx", "bench/ingest.ts", "--instances", "none"], { cwd: root })).rejects.toMatchObject({ code: 2 });
  });
});

describe("task benchmark (npm run bench -- --task)", () => {
  it("sends through the mutual-TLS front to the app storing over HTTPS, and prices the task's CPU and the S3 requests per TB", async () => {
    const { stdout } = await run(
      process.execPath,
      ["--import", "tsx", "bench/ingest.ts", "--task", "--task-sizes", "64,1024", "--task-mib", "2", "--task-clients", "2", "--task-per-request", "2"],
      { cwd: root, env: process.env },
    );
    const lines = stdout.trimEnd().split("\n");
    const r = JSON.parse(lines.at(-1)!);
    expect(r).toMatchObject({ bench: "task", auth: "clientauth", problems: [] });
    expect(r.sizes.map((s: { instanceKiB: number }) => s.instanceKiB)).toEqual([64, 1024]);
    for (const s of r.sizes) {
      // Every measured instance was one PutObject (smaller than a part) through TLS to the store.
      expect(s.s3Calls).toEqual({ PutObject: s.instances });
      expect(s.cpuSeconds.task).toBeCloseTo(s.cpuSeconds.app + s.cpuSeconds.nginx, 1);
      expect(s.fargateUsdPerTB).toBeCloseTo(s.vcpuHoursPerTB * 0.04048, 2);
    }
    expect(stdout).toMatch(/^64 KiB x \d+: Fargate compute per TB\s+\$\d+\.\d{3}$/m);
    expect(stdout).toMatch(/^1024 KiB x \d+: S3 requests per TB\s+\$\d+\.\d{2}$/m);
    // The front and the store it started are gone.
    await expect(run("pgrep", ["-f", "stowrs-bench-task-"])).rejects.toMatchObject({ code: 1 });

    await expect(run(process.execPath, ["--import", "tsx", "bench/ingest.ts", "--task", "--task-auth", "basic"], { cwd: root })).rejects.toMatchObject({ code: 2 });
  });

  it("turns CPU per GiB and S3 requests per instance into cost per TB (10^12 bytes)", () => {
    const prices = { vcpuHour: 0.04, s3ClassAPer1000: 0.005, s3ClassBPer1000: 0.0004 };
    // 3.6 CPU-s per GiB: 1e12 / 2^30 GiB per TB = 931.32 GiB -> 0.931 vCPU-hours.
    const c = costPerTB(3.6, 1e6, { PutObject: 1, HeadObject: 1, AbortMultipartUpload: 1 }, prices);
    expect(c.vcpuHoursPerTB).toBeCloseTo(0.931, 3);
    expect(c.fargateUsdPerTB).toBeCloseTo(0.037, 3);
    // 10^6 instances per TB x (0.005 + 0.0004) / 1000; the abort is free.
    expect(c.s3UsdPerTB).toBeCloseTo(5.4, 2);
    expect(c.s3RequestsPerInstance).toBe(3);
  });
});
