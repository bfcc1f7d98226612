// A lean STOW-RS client for benchmarks: node:http with keep-alive, the multipart body written
// as a list of buffers (never concatenated) or streamed from an async iterable, and the answer
// reduced to what the benchmarks check.
import { once } from "node:events";
import { request, type Agent } from "node:http";

export interface StowReply {
  status: number;
  retryAfter?: string;
  /** SOP Instance UIDs in ReferencedSOPSequence (stored). */
  stored: string[];
  /** SOP Instance UID and reason of each FailedSOPSequence item. */
  failed: Array<{ sopInstanceUid: string; reason: number }>;
  otherFailures: number;
  ms: number;
  /** Response body text when it was not a Store Instances Response. */
  error?: string;
}

export interface StowTarget {
  url: string;
  agent: Agent;
}

export const BOUNDARY = "stowrs-bench-3f0c9a71d2e84b6b";
const CONTENT_TYPE = `multipart/related; type="application/dicom"; boundary=${BOUNDARY}`;

function partHead(first: boolean): Buffer {
  return Buffer.from(`${first ? "" : "\r\n"}--${BOUNDARY}\r\nContent-Type: application/dicom\r\n\r\n`, "latin1");
}
const CLOSE = Buffer.from(`\r\n--${BOUNDARY}--\r\n`, "latin1");

/** The multipart body for these instances, as chunks. */
export function multipartChunks(instances: Buffer[]): Buffer[] {
  return [...instances.flatMap((b, i) => [partHead(i === 0), b]), CLOSE];
}

/** Multipart framing around one instance whose bytes come from elsewhere (a stream). */
export function multipartFrame(): { head: Buffer; tail: Buffer } {
  return { head: partHead(true), tail: CLOSE };
}

/** POSTs the body to {url}/studies and waits for the whole answer. */
export async function postStudies(target: StowTarget, body: Buffer[] | { length: number; chunks: AsyncIterable<Buffer> }): Promise<StowReply> {
  const started = performance.now();
  const length = Array.isArray(body) ? body.reduce((n, b) => n + b.length, 0) : body.length;
  const req = request(`${target.url}/studies`, {
    method: "POST",
    agent: target.agent,
    headers: { "Content-Type": CONTENT_TYPE, "Content-Length": String(length), Accept: "application/dicom+json" },
  });
  const response = new Promise<{ status: number; retryAfter?: string; contentType: string; text: string }>((resolve, reject) => {
    req.once("response", async (res) => {
      // An early answer (503 before the body is read) may leave the rest of our write failing: the answer counts.
      req.on("error", () => undefined);
      const parts: Buffer[] = [];
      try {
        for await (const c of res) parts.push(c as Buffer);
      } catch (err) {
        reject(err);
        return;
      }
      resolve({
        status: res.statusCode ?? 0,
        retryAfter: res.headers["retry-after"] as string | undefined,
        contentType: String(res.headers["content-type"] ?? ""),
        text: Buffer.concat(parts).toString("utf8"),
      });
    });
    req.once("error", reject);
  });
  // Unhandled while we are still writing; awaited below.
  response.catch(() => undefined);
  const write = async () => {
    const chunks = Array.isArray(body) ? body : body.chunks;
    for await (const chunk of chunks) {
      if (req.destroyed) return;
      if (!req.write(chunk)) await Promise.race([once(req, "drain"), response.then(() => undefined)]);
    }
    req.end();
  };
  const writing = write();
  writing.catch(() => undefined);
  try {
    await Promise.race([writing, response]);
  } catch (err) {
    req.destroy();
    throw err;
  }
  const res = await response;
  const reply: StowReply = { status: res.status, retryAfter: res.retryAfter, stored: [], failed: [], otherFailures: 0, ms: performance.now() - started };
  if (res.contentType.startsWith("application/dicom+json")) {
    const json = JSON.parse(res.text) as Record<string, { Value?: Array<Record<string, { Value?: unknown[] }>> }>;
    for (const item of json["00081199"]?.Value ?? []) reply.stored.push(String(item["00081155"]?.Value?.[0]));
    for (const item of json["00081198"]?.Value ?? []) {
      reply.failed.push({ sopInstanceUid: String(item["00081155"]?.Value?.[0]), reason: Number(item["00081197"]?.Value?.[0]) });
    }
    reply.otherFailures = json["0008119A"]?.Value?.length ?? 0;
  } else reply.error = res.text.slice(0, 500);
  return reply;
}
