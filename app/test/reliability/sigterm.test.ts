// SIGTERM while uploads are in flight, against the service as a child process: it stops taking
// new connections, lets the requests in flight finish (or, past SHUTDOWN_TIMEOUT_SECONDS, cuts
// them off without a success answer), never leaves a partial object, and exits 0. And in every
// other state (starting up, idle, S3 gone, stdout a full pipe nobody reads, signalled twice,
// run through `npm start`) it ends within SHUTDOWN_TIMEOUT_SECONDS plus the allowance.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { Agent, request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { SHUTDOWN_ALLOWANCE_MS } from "../../src/server.js";
import { startFaultyS3Proxy, type FaultyS3Proxy } from "../support/faulty-s3-proxy.js";
import { expectedKey } from "../support/key-layout.js";
import { expectWordKept, sentInstance, type SentInstance } from "../support/ledger.js";
import { fetchMetrics, metric } from "../support/metrics.js";
import { multipartBody, multipartContentType } from "../support/multipart.js";
import { piecewisePost, writeInPieces, type PiecewisePost } from "../support/piecewise-client.js";
import { freePort } from "../support/free-port.js";
import { descendants, isRunning, portClosed, processesWithEnv } from "../support/process-tree.js";
import { getObject } from "../support/s3-objects.js";
import { startS3rver, type S3rverHandle } from "../support/s3rver.js";
import { spawnService, startServiceProcess, type ServiceHandle } from "../support/service.js";
import { postSinglePart } from "../support/stow-client.js";
import { MIB } from "../support/units.js";

const B = "sigterm-boundary";

let s3: S3rverHandle;
let proxy: FaultyS3Proxy;
let svc: ServiceHandle | undefined;

beforeAll(async () => {
  s3 = await startS3rver();
  proxy = await startFaultyS3Proxy(() => s3.port);
});
afterEach(async () => {
  await svc?.stop("SIGKILL");
  svc = undefined;
  proxy.clearRules();
});
afterAll(async () => {
  await proxy?.close();
  await s3?.stop();
});

async function start(env: Record<string, string>) {
  svc = await startServiceProcess({ ...s3.env, S3_ENDPOINT: proxy.endpoint, UPLOAD_PART_SIZE_MIB: "5", ...env });
  return svc;
}

/** Starts a request and sends the first `fraction` of its body. */
async function begin(url: string, sent: SentInstance[], fraction: number): Promise<{ post: PiecewisePost; rest: Buffer }> {
  const body = multipartBody(
    sent.map((i) => i.bytes),
    B,
  );
  const post = piecewisePost(`${url}/studies`, multipartContentType(B));
  const split = Math.floor(body.length * fraction);
  await writeInPieces(post, body.subarray(0, split), 256 * 1024);
  return { post, rest: body.subarray(split) };
}

async function uploadsInFlight(url: string): Promise<number | undefined> {
  return metric(await fetchMetrics(url), "stowrs_uploads_in_flight");
}

async function connectionRefused(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/health`);
    // An answer is acceptable only as a refusal.
    return res.status === 503;
  } catch (err: any) {
    return err?.cause?.code === "ECONNREFUSED";
  }
}

describe("SIGTERM during uploads", () => {
  it("finishes the requests in flight, stores them byte-exact, refuses new connections and exits 0", async () => {
    const service = await start({ SHUTDOWN_TIMEOUT_SECONDS: "60" });
    const studies = [0, 1, 2].map(() => [sentInstance(12 * MIB), sentInstance(100_000), sentInstance(300_000)]);
    const started = await Promise.all(studies.map((sent) => begin(service.url, sent, 0.5)));
    // Every request is under way (its large instance's header was read) and parts are on their way to S3.
    for (const sent of studies) await expect.poll(() => proxy.count("HeadObject", expectedKey(sent[0])), { timeout: 10_000 }).toBe(1);
    await expect.poll(() => proxy.count("UploadPart"), { timeout: 10_000 }).toBeGreaterThanOrEqual(1);

    const exited = service.stop("SIGTERM");
    await expect.poll(() => service.logs().some((l) => l.includes('"signal received"')), { timeout: 5_000 }).toBe(true);
    expect(await connectionRefused(service.url)).toBe(true);

    // The clients carry on and get their full answers.
    await Promise.all(started.map(({ post, rest }) => writeInPieces(post, rest, 256 * 1024).then(() => post.end())));
    const answers = await Promise.all(started.map(({ post }) => post.answer));
    for (const [n, answer] of answers.entries()) {
      expect(answer.status).toBe(200);
      await expectWordKept(s3, studies[n], answer, []);
    }
    expect(await exited).toBe(0);
  });

  it("past SHUTDOWN_TIMEOUT_SECONDS cuts off a stalled request without a success answer, writes nothing for it, and exits 0", async () => {
    const service = await start({ SHUTDOWN_TIMEOUT_SECONDS: "1" });
    const stalled = [sentInstance(100_000), sentInstance(20 * MIB)];
    const quick = [sentInstance(200_000)];
    // The stalled client sends its first instance and half of its large one, then stops sending.
    const { post: stalledPost } = await begin(service.url, stalled, 0.5);
    await expect.poll(() => proxy.count("UploadPart", expectedKey(stalled[1])), { timeout: 10_000 }).toBeGreaterThanOrEqual(1);
    // Only the stalled large instance is in flight (its small first one is stored)...
    await expect.poll(() => uploadsInFlight(service.url), { timeout: 10_000 }).toBe(1);
    const { post: quickPost, rest } = await begin(service.url, quick, 0.5);
    // ...and the quick one is taken on before the signal (a request that arrives after it gets 503).
    await expect.poll(() => uploadsInFlight(service.url), { timeout: 10_000 }).toBe(2);

    const exited = service.stop("SIGTERM");
    // A client that finishes within the timeout still gets its answer.
    await writeInPieces(quickPost, rest, 64 * 1024);
    quickPost.end();
    const quickAnswer = await quickPost.answer;
    expect(quickAnswer.status).toBe(200);
    await expectWordKept(s3, quick, quickAnswer, []);

    // The stalled one is cut off: no answer at all rather than a claim about instances it never finished.
    await expect(stalledPost.answer).rejects.toThrow();
    expect(await exited).toBe(0);
    // Its complete first instance may have been stored; its large one is nowhere.
    expect(await getObject(s3.client, s3.bucket, expectedKey(stalled[1]))).toBeUndefined();
    const first = await getObject(s3.client, s3.bucket, expectedKey(stalled[0]));
    if (first) expect(first.equals(stalled[0].bytes)).toBe(true);
    // The multipart upload was aborted before the process exited.
    expect(proxy.count("AbortMultipartUpload", expectedKey(stalled[1]))).toBe(1);
  });

  it("closes idle keep-alive connections at once and exits 0 when nothing is in flight", async () => {
    const service = await start({ SHUTDOWN_TIMEOUT_SECONDS: "60" });
    const sent = [sentInstance(10_000)];
    const res = await fetch(`${service.url}/studies`, {
      method: "POST",
      headers: { "Content-Type": multipartContentType(B) },
      body: new Uint8Array(multipartBody([sent[0].bytes], B)),
    });
    expect(res.status).toBe(200);
    await res.text();
    const t0 = Date.now();
    expect(await service.stop("SIGTERM")).toBe(0);
    // Not held up by the idle connection fetch keeps open.
    expect(Date.now() - t0).toBeLessThan(10_000);
  });
});

/** Sends the signal and resolves with the exit code and how long the process took to exit. */
async function timedStop(service: ServiceHandle, signal: NodeJS.Signals = "SIGTERM"): Promise<{ code: number | null; ms: number }> {
  const t0 = performance.now();
  const code = await service.stop(signal);
  return { code, ms: performance.now() - t0 };
}

const boundMs = (shutdownTimeoutSeconds: number) => shutdownTimeoutSeconds * 1000 + SHUTDOWN_ALLOWANCE_MS;

describe("shutdown ends within SHUTDOWN_TIMEOUT_SECONDS plus the allowance, in every state", () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
  /** Processes a test spawned itself: killed after it whatever happened (a timed-out test runs no finally). */
  const spawned: ChildProcess[] = [];
  afterEach(() => {
    for (const child of spawned.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  });
  const tempDir = () => {
    const d = mkdtempSync(join(tmpdir(), "stowrs-sigterm-"));
    dirs.push(d);
    return d;
  };

  it("at start-up (the embedded store still starting): exits 0 and leaves no store behind", async () => {
    const dataDir = tempDir();
    const child = spawnService({ DATA_DIR: dataDir, SHUTDOWN_TIMEOUT_SECONDS: "2" });
    spawned.push(child);
    const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
    child.stderr!.resume();
    // The first line main writes, before anything starts.
    await new Promise<void>((resolve) => createInterface({ input: child.stdout! }).on("line", (l) => l.includes('"msg":"starting"') && resolve()));
    const t0 = performance.now();
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
    expect(performance.now() - t0).toBeLessThan(boundMs(2));
    // The store it was starting (S3RVER_DIR under DATA_DIR) is gone too.
    await expect.poll(() => processesWithEnv("S3RVER_DIR", join(dataDir, "s3")), { timeout: 5_000 }).toEqual([]);
  });

  it("idle: exits 0 at once, and its last line says what was dropped (nothing)", async () => {
    const service = await start({ SHUTDOWN_TIMEOUT_SECONDS: "30" });
    const { code, ms } = await timedStop(service);
    expect(code).toBe(0);
    expect(ms).toBeLessThan(5_000);
    expect(service.logRecords("exiting")).toMatchObject([{ code: 0, logLinesDropped: 0 }]);
  });

  it("with S3 gone mid-request: exits 0 within the bound, the request's upload given up", async () => {
    const own = await startS3rver();
    try {
      const service = await startServiceProcess({ ...own.env, SHUTDOWN_TIMEOUT_SECONDS: "2", S3_MAX_ATTEMPTS: "20", S3_REQUEST_TIMEOUT_SECONDS: "30" });
      svc = service;
      const sent = [sentInstance(12 * MIB)];
      const { post } = await begin(service.url, sent, 0.6);
      await expect.poll(() => uploadsInFlight(service.url), { timeout: 10_000 }).toBe(1);
      await own.kill();
      const { code, ms } = await timedStop(service);
      expect(code).toBe(0);
      expect(ms).toBeLessThan(boundMs(2));
      console.log(JSON.stringify({ test: "sigterm", state: "S3 gone mid-request", shutdownTimeoutSeconds: 2, exitedAfterMs: Math.round(ms) }));
      await expect(post.answer).rejects.toThrow();
    } finally {
      await own.stop();
    }
  });

  it("signalled twice: the second signal changes nothing, the request in flight still finishes, exit 0", async () => {
    const service = await start({ SHUTDOWN_TIMEOUT_SECONDS: "30" });
    const sent = [sentInstance(300_000), sentInstance(6 * MIB)];
    const { post, rest } = await begin(service.url, sent, 0.5);
    await expect.poll(() => uploadsInFlight(service.url), { timeout: 10_000 }).toBeGreaterThanOrEqual(1);
    const t0 = performance.now();
    process.kill(service.pid, "SIGTERM");
    await expect.poll(() => service.logs().some((l) => l.includes('"signal received"')), { timeout: 5_000 }).toBe(true);
    process.kill(service.pid, "SIGTERM");
    await expect.poll(() => service.logRecords("signal received again: already shutting down").length, { timeout: 5_000 }).toBe(1);
    await writeInPieces(post, rest, 256 * 1024);
    post.end();
    const answer = await post.answer;
    expect(answer.status).toBe(200);
    await expectWordKept(s3, sent, answer, []);
    expect(await service.exited).toBe(0);
    expect(performance.now() - t0).toBeLessThan(boundMs(30));
  });

  it("with stdout a full pipe nobody reads (LOGLEVEL=DEBUG, many requests): keeps answering, drops and counts log lines, exits 0 within the bound", async () => {
    const child: ChildProcess = spawnService({ ...s3.env, LOGLEVEL: "DEBUG", SHUTDOWN_TIMEOUT_SECONDS: "2" });
    spawned.push(child);
    const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
    child.stderr!.resume();
    const lines = createInterface({ input: child.stdout! });
    const url = await new Promise<string>((resolve) =>
      lines.on("line", (l) => {
        if (l.includes('"msg":"listening"')) resolve(JSON.parse(l).url);
      }),
    );
    // From now on nobody reads: the pipe and this side's buffer fill up, then the service's backlog.
    lines.close();
    child.stdout!.pause();

    const agent = new Agent({ keepAlive: true, maxSockets: 16 });
    const rejected = () =>
      new Promise<number>((resolve, reject) => {
        // Refused at once (415) and logged: about 400 bytes of log line for a few bytes of request.
        const req = request(`${url}/studies`, { method: "POST", agent, headers: { "Content-Type": "text/plain", "X-Request-Id": "r".repeat(128), "Content-Length": "0" } }, (res) => {
          res.resume();
          res.on("end", () => resolve(res.statusCode!));
        });
        req.on("error", reject);
        req.end();
      });
    let stored = 0;
    let round = 0;
    for (; round < 40; round++) {
      const statuses = await Promise.all(Array.from({ length: 100 }, rejected));
      expect(new Set(statuses)).toEqual(new Set([415]));
      // And real stores, whose DEBUG lines go the same way.
      const sent = [sentInstance(2_000)];
      expect((await postSinglePart(url, sent[0].bytes)).status).toBe(200);
      stored += 1;
      const text = await (await fetch(`${url}/metrics`)).text();
      if ((metric(text, "stowrs_log_lines_dropped_total") ?? 0) > 1_000) break;
    }
    agent.destroy();
    const text = await (await fetch(`${url}/metrics`)).text();
    expect(metric(text, "stowrs_log_lines_dropped_total")).toBeGreaterThan(1_000);
    // Still answering: nothing waits for stdout (a logger that did would never answer; the
    // bound leaves a loaded machine its slack).
    const t = performance.now();
    expect((await fetch(`${url}/health`)).status).toBe(200);
    expect(performance.now() - t).toBeLessThan(5_000);
    expect(stored).toBeGreaterThan(0);

    const t0 = performance.now();
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
    const ms = performance.now() - t0;
    expect(ms).toBeLessThan(boundMs(2));
    const dropped = metric(text, "stowrs_log_lines_dropped_total");
    console.log(JSON.stringify({ test: "sigterm", state: "stdout a full pipe", requests: (round + 1) * 101, logLinesDropped: dropped, exitedAfterMs: Math.round(ms) }));
  });

  it("`npm start` stops on SIGTERM to npm: exit 0, the service's and the embedded store's ports closed, no process left", async () => {
    const port = await freePort();
    const dataDir = tempDir();
    const root = fileURLToPath(new URL("../../..", import.meta.url));
    const npm = spawn("npm", ["start"], { cwd: root, env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", PORT: String(port), DATA_DIR: dataDir }, stdio: ["ignore", "pipe", "pipe"] });
    spawned.push(npm);
    const exited = new Promise<number | null>((r) => npm.once("exit", (code) => r(code)));
    let stderr = "";
    npm.stderr!.on("data", (d) => (stderr += d));
    const listening = await new Promise<Record<string, any>>((resolve, reject) => {
      createInterface({ input: npm.stdout! }).on("line", (l) => {
        if (l.includes('"msg":"listening"')) resolve(JSON.parse(l));
      });
      exited.then((code) => reject(new Error(`npm start exited with ${code} before listening: ${stderr}`)));
    });
    // Loopback by default (HOST unset), on the port asked for.
    expect(listening.address).toBe(`127.0.0.1:${port}`);
    const storePort = Number(/embedded store http:\/\/127\.0\.0\.1:(\d+)/.exec(listening.s3)?.[1]);
    expect(storePort).toBeGreaterThan(0);
    const below = descendants(npm.pid!);
    expect(below.length).toBeGreaterThanOrEqual(2); // node (main.js) and the store

    const t0 = performance.now();
    npm.kill("SIGTERM");
    expect(await exited).toBe(0);
    const ms = performance.now() - t0;
    expect(ms).toBeLessThan(boundMs(30));
    console.log(JSON.stringify({ test: "sigterm", state: "npm start", exitedAfterMs: Math.round(ms) }));
    await expect.poll(() => below.filter(isRunning), { timeout: 5_000 }).toEqual([]);
    expect(await portClosed(port)).toBe(true);
    expect(await portClosed(storePort)).toBe(true);
  }, 240_000);
});
