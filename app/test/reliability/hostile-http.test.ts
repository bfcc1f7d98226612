// A hundred-odd hostile requests against the service as a child process and a real S3 server:
// random bodies, broken framing, oversized lines, truncated DICOM, path traversal in UIDs (in the
// data and in the path), nested multipart, compressed bodies, lying Content-Length, slow headers.
// Each gets a 4xx, or a 2xx/409 that fails the bad instances one by one; never a 5xx, never a
// crash, and no key outside {Study}/{Series}/{SOP}.dcm.
import { readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { gzipSync, deflateSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Reason } from "../../src/stow/reasons.js";
import { buildInstance, newUid } from "../support/dicom.js";
import { KEY_LAYOUT } from "../support/key-layout.js";
import { expectWordKept } from "../support/ledger.js";
import { fetchMetrics, metric } from "../support/metrics.js";
import { multipartBody, type PartSpec } from "../support/multipart.js";
import { rawExchange, type RawOutcome } from "../support/raw-http.js";
import { listKeys } from "../support/s3-objects.js";
import { startS3rver, type S3rverHandle } from "../support/s3rver.js";
import { seededRandom } from "../support/seeded-random.js";
import { startServiceProcess, type ServiceHandle } from "../support/service.js";
import { postStow } from "../support/stow-client.js";

const B = "hostile-boundary";
const MAX_REQUEST_BYTES = 8 * 1024 * 1024;
const SEED = Number(process.env.RELIABILITY_SEED ?? Date.now() % 2 ** 31);
const SLOW_CLIENTS = 20;

let s3: S3rverHandle;
let svc: ServiceHandle;
let slowClients: Array<Promise<RawOutcome>> = [];
let slowStarted = 0;

beforeAll(async () => {
  s3 = await startS3rver();
  svc = await startServiceProcess({ ...s3.env, MAX_REQUEST_BYTES: String(MAX_REQUEST_BYTES), LOGLEVEL: "INFO" });
  // Slowloris: connections that send their request head a few bytes at a time and never finish it.
  // They run while every other case below is sent, and must not get in its way.
  slowStarted = Date.now();
  const head = `POST /studies HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/related; type="application/dicom"; boundary=${B}\r\nX-Slow: ${"a".repeat(100)}`;
  const trickle: Array<string | number> = [];
  for (let at = 8; at < head.length; at += 3) trickle.push(2_000, head.slice(at, at + 3));
  slowClients = Array.from({ length: SLOW_CLIENTS }, () => rawExchange(svc.port, head.slice(0, 8), { pieces: trickle, timeoutMs: 100_000 }));
});
afterAll(async () => {
  await svc?.stop("SIGKILL");
  await s3?.stop();
});

const random = seededRandom(SEED);
const randomBytes = (n: number) => Buffer.from(Array.from({ length: n }, () => Math.floor(random() * 256)));

const CT = `multipart/related; type="application/dicom"; boundary=${B}`;

interface RequestSpec {
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  body?: Buffer;
  /** Content-Length to declare; default the body's length. null sends none (chunked must then be in headers). */
  contentLength?: number | string | null;
  /** Raw bytes instead of a composed request. */
  raw?: Buffer | string;
  halfClose?: boolean;
}

function compose(spec: RequestSpec): Buffer {
  if (spec.raw !== undefined) return Buffer.isBuffer(spec.raw) ? spec.raw : Buffer.from(spec.raw, "latin1");
  const body = spec.body ?? Buffer.alloc(0);
  const headers: Record<string, string> = { Host: "127.0.0.1", "Content-Type": CT, Connection: "close", ...spec.headers };
  if (spec.contentLength !== null) headers["Content-Length"] = String(spec.contentLength ?? body.length);
  const head = `${spec.method ?? "POST"} ${spec.path ?? "/studies"} HTTP/1.1\r\n${Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join("")}\r\n`;
  return Buffer.concat([Buffer.from(head, "latin1"), body]);
}

type Expectation = {
  /** Acceptable first status. */
  allowed: number[];
  /** When the answer is 409 or 202: the failure reasons that may appear. */
  reasons?: number[];
};

interface HostileCase {
  name: string;
  spec: RequestSpec;
  expect: Expectation;
}

const cases: HostileCase[] = [];
const add = (name: string, spec: RequestSpec, expectation: Expectation) => cases.push({ name, spec, expect: expectation });
const FOUR_XX: Expectation = { allowed: [400, 404, 405, 406, 408, 411, 413, 414, 415, 431] };
const NOT_DICOM: Expectation = { allowed: [409], reasons: [Reason.CannotUnderstand, Reason.DataSetDoesNotMatchSOPClass] };
const BAD_UID: Expectation = { allowed: [409], reasons: [Reason.DataSetDoesNotMatchSOPClass] };
const ids = () => ({ studyUid: newUid(), seriesUid: newUid(), sopInstanceUid: newUid() });

// Random bodies under a valid Content-Type.
for (let i = 0; i < 30; i++) add(`random body #${i}`, { body: randomBytes(Math.floor(random() * 32_768)) }, FOUR_XX);
// Random part data inside valid framing.
for (let i = 0; i < 10; i++) add(`random part data #${i}`, { body: multipartBody([randomBytes(1 + Math.floor(random() * 16_384))], B) }, NOT_DICOM);
// DICOM cut off before its last identifying UID, at random points.
for (let i = 0; i < 10; i++) {
  const u = ids();
  const whole = buildInstance({ ...u, pixels: 64 });
  const seriesEnd = whole.indexOf(Buffer.from(u.seriesUid, "latin1")) + u.seriesUid.length - 1;
  add(`DICOM truncated at a random header byte #${i}`, { body: multipartBody([whole.subarray(0, Math.floor(random() * seriesEnd))], B) }, NOT_DICOM);
}

// Framing.
const good = () => buildInstance({ ...ids(), pixels: 256 });
const withoutClose = (parts: Buffer[]) => {
  const full = multipartBody(parts, B);
  return full.subarray(0, full.length - `\r\n--${B}--\r\n`.length);
};
add("no close delimiter", { body: withoutClose([good()]) }, { allowed: [400], reasons: [Reason.CannotUnderstand] });
add("no close delimiter after two instances", { body: withoutClose([good(), good()]) }, { allowed: [202], reasons: [Reason.CannotUnderstand] });
add("missing boundary parameter", { body: multipartBody([good()], B), headers: { "Content-Type": 'multipart/related; type="application/dicom"' } }, { allowed: [400] });
add("empty boundary parameter", { body: multipartBody([good()], B), headers: { "Content-Type": 'multipart/related; type="application/dicom"; boundary=""' } }, { allowed: [400] });
add("300-character boundary", { body: multipartBody([good()], "b".repeat(300)), headers: { "Content-Type": `multipart/related; type="application/dicom"; boundary=${"b".repeat(300)}` } }, { allowed: [400] });
add("boundary that is not in the body", { body: multipartBody([good()], "other-boundary") }, { allowed: [400] });
add("1 MiB HTTP header line", { body: multipartBody([good()], B), headers: { "X-Junk": "j".repeat(1 << 20) } }, { allowed: [431] });
add("1 MiB Content-Type", { body: multipartBody([good()], B), headers: { "Content-Type": `${CT}; pad=${"p".repeat(1 << 20)}` } }, { allowed: [431] });
add("1 MiB request target", { path: `/studies/${"1.".repeat(1 << 19)}1` }, { allowed: [414, 431] });
add("1 MiB part header line", { body: Buffer.concat([Buffer.from(`--${B}\r\nX-Junk: ${"j".repeat(1 << 20)}\r\n\r\n`), good(), Buffer.from(`\r\n--${B}--\r\n`)]) }, { allowed: [400] });
add("10,000 short part header lines", { body: Buffer.concat([Buffer.from(`--${B}\r\n${"X-A: 1\r\n".repeat(10_000)}\r\n`), good(), Buffer.from(`\r\n--${B}--\r\n`)]) }, { allowed: [400] });
add("1 MiB preamble", { body: Buffer.concat([Buffer.alloc(1 << 20, 0x61), Buffer.from("\r\n"), multipartBody([good()], B)]) }, { allowed: [400] });
add("empty multipart (close delimiter only)", { body: Buffer.from(`--${B}--\r\n`) }, { allowed: [400] });
add("empty body", { body: Buffer.alloc(0) }, { allowed: [400] });
add("body of CRLFs only", { body: Buffer.from("\r\n".repeat(5000)) }, { allowed: [400] });
add("1,000 empty parts", { body: multipartBody(Array.from({ length: 1000 }, () => Buffer.alloc(0)), B) }, NOT_DICOM);
add("a part without headers holding text", { body: multipartBody([{ body: Buffer.from("hello"), contentType: null }], B) }, NOT_DICOM);

// Truncated DICOM.
add("DICOM of 10 bytes", { body: multipartBody([good().subarray(0, 10)], B) }, NOT_DICOM);
add("DICOM preamble and DICM only", { body: multipartBody([good().subarray(0, 132)], B) }, NOT_DICOM);
add("DICOM cut inside the File Meta", { body: multipartBody([good().subarray(0, 180)], B) }, NOT_DICOM);
{
  const bad = good();
  bad.writeUInt32LE(0xffffffff, 140); // File Meta group length
  add("DICOM with a File Meta group length of 4 GiB", { body: multipartBody([bad], B) }, NOT_DICOM);
}

// UIDs meant to climb out of the key layout, in the data...
for (const [field, value] of [
  ["studyUid", "1.2/../../../etc"],
  ["studyUid", ".."],
  ["seriesUid", "1.2.3/4"],
  ["seriesUid", "../.."],
  ["sopInstanceUid", "../../etc/passwd"],
  ["sopInstanceUid", "1.2.3/.."],
  ["studyUid", `1.${"2".repeat(70)}`],
  ["sopInstanceUid", "1.02.3"],
  ["seriesUid", "1.2.a"],
  ["studyUid", "1.2.3\\..\\4"],
] as const) {
  add(`${field} "${value.slice(0, 24)}" in the data`, { body: multipartBody([buildInstance({ ...ids(), [field]: value })], B) }, BAD_UID);
}
add("File Meta transfer syntax with a path in it", { body: multipartBody([buildInstance({ ...ids(), transferSyntax: "1.2/../../x" })], B) }, NOT_DICOM);
{
  const study = newUid();
  add("valid study in the path, traversal in the data", { path: `/studies/${study}`, body: multipartBody([buildInstance({ ...ids(), studyUid: `${study}/../..` })], B) }, BAD_UID);
}
// ...and in the path.
for (const path of [
  "/studies/..",
  "/studies/%2e%2e",
  "/studies/1.2%2F..%2F..%2Fetc",
  "/studies/1.2/..%2F..",
  "/studies/../../etc/passwd",
  "/studies/1.2.3%00",
  "/studies/1.2.3;x=1",
  "/studies/%F0%9F%92%A9",
  "/studies/1.2.3%2F",
  "/studies//",
]) {
  add(`path ${path}`, { path, body: multipartBody([good()], B) }, FOUR_XX);
}

// Nested and foreign multipart.
{
  const inner = multipartBody([good()], "inner-boundary");
  add("nested multipart/related part", { body: multipartBody([{ body: inner, contentType: 'multipart/related; type="application/dicom"; boundary=inner-boundary' }], B) }, NOT_DICOM);
  add("multipart/mixed request", { body: multipartBody([good()], B), headers: { "Content-Type": `multipart/mixed; boundary=${B}` } }, { allowed: [415] });
  add("root type multipart/related", { body: multipartBody([good()], B), headers: { "Content-Type": `multipart/related; type="multipart/related"; boundary=${B}` } }, { allowed: [415] });
  add("no Content-Type", { body: multipartBody([good()], B), headers: { "Content-Type": "" } }, { allowed: [415] });
  add("base64 part", { body: multipartBody([{ body: Buffer.from(good().toString("base64")), headers: { "Content-Transfer-Encoding": "base64" } } as PartSpec], B) }, NOT_DICOM);
}

// Compressed bodies: not decoded, refused.
add("gzip body", { body: gzipSync(multipartBody([good()], B)), headers: { "Content-Encoding": "gzip" } }, { allowed: [415] });
add("deflate body", { body: deflateSync(multipartBody([good()], B)), headers: { "Content-Encoding": "deflate" } }, { allowed: [415] });
add("br Content-Encoding", { body: multipartBody([good()], B), headers: { "Content-Encoding": "br" } }, { allowed: [415] });
add("gzip, identity Content-Encoding", { body: gzipSync(multipartBody([good()], B)), headers: { "Content-Encoding": "gzip, identity" } }, { allowed: [415] });
add("x-gzip Content-Encoding", { body: gzipSync(multipartBody([good()], B)), headers: { "Content-Encoding": "x-gzip" } }, { allowed: [415] });

// Content-Length that lies, and other framing the HTTP layer must refuse.
{
  const body = multipartBody([good()], B);
  add("Content-Length longer than the body, then FIN", { body, contentLength: body.length + 5000, halfClose: true }, { allowed: [400], reasons: [Reason.CannotUnderstand] });
  add("Content-Length shorter than the body", { body, contentLength: body.length - 300 }, { allowed: [400], reasons: [Reason.CannotUnderstand] });
  add("Content-Length and Transfer-Encoding", { body, headers: { "Transfer-Encoding": "chunked" } }, { allowed: [400] });
  add("Content-Length not a number", { body, contentLength: "12abc" }, { allowed: [400] });
  add("two Content-Length values", { body, headers: { "Content-Length": `${body.length}, ${body.length + 1}` }, contentLength: null }, { allowed: [400] });
  add("Content-Length over MAX_REQUEST_BYTES", { body: Buffer.alloc(0), contentLength: MAX_REQUEST_BYTES + 1 }, { allowed: [413] });
  const chunk = (b: Buffer) => Buffer.concat([Buffer.from(`${b.length.toString(16)}\r\n`), b, Buffer.from("\r\n")]);
  add("chunked with a bad chunk size", { body: Buffer.concat([chunk(body.subarray(0, 1000)), Buffer.from("zz\r\nxx\r\n")]), contentLength: null, headers: { "Transfer-Encoding": "chunked" } }, { allowed: [400], reasons: [Reason.CannotUnderstand] });
  const big = buildInstance({ ...ids(), pixels: MAX_REQUEST_BYTES + 1024 });
  const bigBody = multipartBody([big], B);
  const chunks: Buffer[] = [];
  for (let at = 0; at < bigBody.length; at += 1 << 20) chunks.push(chunk(bigBody.subarray(at, at + (1 << 20))));
  chunks.push(Buffer.from("0\r\n\r\n"));
  add("chunked body growing past MAX_REQUEST_BYTES", { body: Buffer.concat(chunks), contentLength: null, headers: { "Transfer-Encoding": "chunked" } }, { allowed: [413], reasons: [Reason.OutOfResources] });
}

// Requests that are not STOW-RS at all.
add("PUT /studies", { method: "PUT", body: multipartBody([good()], B) }, FOUR_XX);
add("DELETE /studies/1.2.3", { method: "DELETE", path: "/studies/1.2.3" }, FOUR_XX);
add("GET /studies", { method: "GET" }, FOUR_XX);
add("Accept text/html only", { body: multipartBody([good()], B), headers: { Accept: "text/html" } }, { allowed: [406] });
add("garbage request line", { raw: "GARBAGE\r\n\r\n" }, { allowed: [400] });
add("HTTP/0.9 request", { raw: "GET /\r\n", halfClose: true }, { allowed: [400] });
add("NUL in a header", { raw: `POST /studies HTTP/1.1\r\nHost: x\r\nX-A: a\0b\r\nContent-Length: 0\r\n\r\n` }, { allowed: [400] });

const outcomes: Array<{ name: string; status: number | "closed" }> = [];

describe(`hostile requests (seed ${SEED})`, () => {
  it.each(cases.map((c) => [c.name, c] as const))("%s", async (_, c) => {
    const out = await rawExchange(svc.port, compose(c.spec), { halfClose: c.spec.halfClose, timeoutMs: 20_000 });
    expect(out.timedOut, `no answer and no close within 20 s: ${out.text.slice(0, 200)}`).toBe(false);
    const status = out.statuses[0] ?? "closed";
    outcomes.push({ name: c.name, status });
    for (const s of out.statuses) expect(s, out.text.slice(0, 500)).toBeLessThan(500);
    expect(c.expect.allowed as Array<number | string>, `got ${status}: ${out.text.slice(0, 500)}`).toContain(status);
    const bodyStart = out.text.indexOf("\r\n\r\n");
    const head = out.text.slice(0, bodyStart).toLowerCase();
    if (typeof status === "number" && /\r\ncontent-type: application\/(dicom\+)?json/.test(head)) {
      const body = JSON.parse(out.text.slice(bodyStart + 4, bodyStart + 4 + Number(/\r\ncontent-length: *(\d+)/.exec(head)?.[1] ?? out.text.length)));
      if (c.expect.reasons && (status === 409 || status === 202 || status === 400 || status === 413)) {
        const reasons = [...(body["00081198"]?.Value ?? []), ...(body["0008119A"]?.Value ?? [])].map((i: any) => i["00081197"].Value[0]);
        expect(reasons.length).toBeGreaterThan(0);
        for (const r of reasons) expect(c.expect.reasons).toContain(r);
      }
    }
    expect(() => process.kill(svc.pid, 0), "service process alive").not.toThrow();
  });

  it("leaves slow-header clients cut off by the server, not waiting forever", async () => {
    const outs = await Promise.all(slowClients);
    for (const out of outs) {
      expect(out.timedOut).toBe(false);
      expect(out.closed).toBe(true);
      for (const s of out.statuses) expect(s).toBe(408);
    }
    // Node checks header timeouts every 30 s: cut between 30 and ~60 s after they connected.
    expect(Date.now() - slowStarted).toBeLessThan(90_000);
  });

  it("is alive, has answered no 5xx, logged no unhandled error, and has no key outside the layout", async () => {
    expect(cases.length + SLOW_CLIENTS).toBeGreaterThanOrEqual(100);
    expect((await fetch(`${svc.url}/health`)).status).toBe(200);
    const metrics = await fetchMetrics(svc.url);
    for (const status of ["500", "502", "503", "504"]) expect(metric(metrics, "stowrs_requests_total", { status })).toBeUndefined();
    expect(svc.logs().filter((l) => l.includes("unhandled error"))).toEqual([]);

    // Still stores a normal study.
    const sent = [1, 2].map(() => {
      const u = ids();
      return { ...u, bytes: buildInstance({ ...u, pixels: 4096 }) };
    });
    const res = await postStow(svc.url, multipartBody(sent.map((i) => i.bytes), B), B);
    expect(res.status).toBe(200);
    await expectWordKept(s3, sent, res, []);

    const keys = await listKeys(s3.client, s3.bucket);
    expect(keys.length).toBeGreaterThan(0);
    for (const key of keys) expect(key).toMatch(KEY_LAYOUT);
    // And nothing written by the S3 server outside the bucket's own directory.
    const files: string[] = [];
    const walk = (dir: string) => {
      for (const name of readdirSync(dir)) {
        const p = join(dir, name);
        if (statSync(p).isDirectory()) walk(p);
        else files.push(relative(s3.dir, p));
      }
    };
    walk(s3.dir);
    for (const f of files) expect(f.startsWith(`${s3.bucket}/`), f).toBe(true);
    console.log(JSON.stringify({ test: "hostile-http", seed: SEED, requests: cases.length + SLOW_CLIENTS, byStatus: tally(outcomes.map((o) => String(o.status))) }));
  });
});

function tally(values: string[]): Record<string, number> {
  const t: Record<string, number> = {};
  for (const v of values) t[v] = (t[v] ?? 0) + 1;
  return t;
}
