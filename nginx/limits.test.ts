// Slow and greedy senders at the front, under real nginx before a recording stand-in for
// the app: MAX_CONNECTIONS_PER_CLIENT (requests in progress per certificate subject, or per
// address without client certificates) and BODY_RATE_WINDOW_SECONDS (how long nginx waits
// for a silent sender, the same window the app averages a body's rate over).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { certBucket, frontFiles } from "./testing/bucket.js";
import { send, type Reply, type TlsOptions } from "./testing/client.js";
import { startRecordingBench, type RecordingBench } from "./testing/recording-bench.js";
import { until } from "./testing/wait.js";

let bench: RecordingBench;
beforeAll(async () => {
  bench = await startRecordingBench();
});
afterAll(async () => {
  await bench?.stop();
});

interface Held {
  reply: Promise<Reply>;
  /** Sends the rest of the body; the request then completes. */
  finish(): void;
}

/** A request (its own TCP connection) whose body has begun but not ended, once the app sees it in progress. */
async function hold(url: string, path: string, tls: TlsOptions): Promise<Held> {
  const body = new PassThrough();
  const reply = send(`${url}${path}`, { method: "POST", headers: { "content-length": 2 }, body, tls });
  body.write("a");
  await until(() => bench.upstream.inProgress().includes(path), `the app to receive ${path}`);
  return { reply, finish: () => body.end("b") };
}

/** A complete small request. */
const post = (url: string, path: string, tls: TlsOptions) => send(`${url}${path}`, { method: "POST", body: "ab", tls });

function expectTooMany(reply: Reply, limit: number) {
  expect(reply.status, reply.body).toBe(429);
  expect(reply.headers["retry-after"]).toBe("10");
  expect(reply.body).toBe(`Too many requests in progress from this client (MAX_CONNECTIONS_PER_CLIENT=${limit}); retry when one has finished.\n`);
}

describe("MAX_CONNECTIONS_PER_CLIENT", () => {
  it("without client certificates: N requests in progress from one address, the next one gets 429 and never reaches the app", async () => {
    const f = await bench.front({ AUTH_MODE: "anonymous", CERT_MODE: "ACM", MAX_CONNECTIONS_PER_CLIENT: "3" });
    const tls = { ca: readFileSync(join(f.outDir, "tls", "certificate.crt"), "utf8") };
    const held = [];
    for (let i = 0; i < 3; i += 1) held.push(await hold(f.url, `/addr/held-${i}`, tls));

    expectTooMany(await post(f.url, "/addr/one-too-many", tls), 3);
    expect(bench.upstream.requests.filter((r) => r.url === "/addr/one-too-many")).toHaveLength(0);
    const logged = () => f.accessLog().find((l) => l.uri === "/addr/one-too-many");
    await until(() => logged() !== undefined, "the access-log line");
    expect(logged()).toMatchObject({ status: 429, upstreamSeconds: "" });

    // The held requests go through, and their slots are free again afterwards.
    held.forEach((h) => h.finish());
    for (const h of held) expect((await h.reply).status).toBe(200);
    expect((await post(f.url, "/addr/after", tls)).status).toBe(200);
  });

  it("with client certificates: counted per subject, so two certificates from 127.0.0.1 each have their own allowance", async () => {
    const { pki } = bench;
    const f = await bench.front({ AUTH_MODE: "clientauth", ...(await certBucket(bench.s3, "limits-certs", frontFiles(pki))), MAX_CONNECTIONS_PER_CLIENT: "2" });
    const first = { ca: pki.ca.certPem, cert: pki.client.certPem, key: pki.client.keyPem };
    const second = { ca: pki.ca.certPem, cert: pki.secondClient.certPem, key: pki.secondClient.keyPem };

    const held = [await hold(f.url, "/dn/first-0", first), await hold(f.url, "/dn/first-1", first)];
    expectTooMany(await post(f.url, "/dn/first-2", first), 2);
    // Same address, other subject: not touched by the first one's requests.
    held.push(await hold(f.url, "/dn/second-0", second), await hold(f.url, "/dn/second-1", second));
    expect(bench.upstream.inProgress().filter((p) => p.startsWith("/dn/"))).toHaveLength(4);
    expectTooMany(await post(f.url, "/dn/second-2", second), 2);
    expect(bench.upstream.requests.filter((r) => r.url === "/dn/first-2" || r.url === "/dn/second-2")).toHaveLength(0);

    held.forEach((h) => h.finish());
    for (const h of held) expect((await h.reply).status).toBe(200);
    const dns = bench.upstream.requests.filter((r) => r.url.startsWith("/dn/")).map((r) => `${r.url} ${r.headers["x-client-dn"]}`);
    expect(dns.sort()).toEqual([
      `/dn/first-0 ${pki.client.dn}`,
      `/dn/first-1 ${pki.client.dn}`,
      `/dn/second-0 ${pki.secondClient.dn}`,
      `/dn/second-1 ${pki.secondClient.dn}`,
    ]);
  });
});

describe("BODY_RATE_WINDOW_SECONDS", () => {
  it("cuts a sender that stops sending after the window (not nginx's old 300 s), and the app's request with it", async () => {
    const f = await bench.front({ AUTH_MODE: "anonymous", CERT_MODE: "ACM", BODY_RATE_WINDOW_SECONDS: "2" });
    const tls = { ca: readFileSync(join(f.outDir, "tls", "certificate.crt"), "utf8") };
    const body = new PassThrough();
    const started = Date.now();
    const outcome = send(`${f.url}/silent`, { method: "POST", headers: { "content-length": 1000 }, body, tls }).then(
      (r) => `HTTP ${r.status}`,
      (e: Error) => `cut: ${e.message}`,
    );
    body.write(Buffer.alloc(100));
    await until(() => bench.upstream.inProgress().includes("/silent"), "the app to receive the start of the body");
    const result = await outcome;
    const seconds = (Date.now() - started) / 1000;
    // nginx closes the connection without an answer (408 in its log); the app's request is cut off.
    expect(result).toMatch(/^cut: (socket hang up|read ECONNRESET)/);
    expect(seconds).toBeGreaterThanOrEqual(1.5);
    expect(seconds).toBeLessThan(30);
    await until(() => !bench.upstream.inProgress().includes("/silent"), "the app's request to close");
    expect(bench.upstream.requests.filter((r) => r.url === "/silent")).toHaveLength(0);
    const logged = () => f.accessLog().find((l) => l.uri === "/silent");
    await until(() => logged() !== undefined, "the access-log line");
    expect(logged()).toMatchObject({ status: 408 });
    body.destroy();
  });
});
