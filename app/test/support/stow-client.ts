// The STOW-RS client of the tests and the benchmarks: POST {url}/studies (or another path) over
// node:http, the multipart (or single-part) body given whole, as the buffers it is made of (never
// joined), or as a stream of known length, sent with Content-Length or chunked. An early answer
// (503 at capacity, 413 before the body is read) is the answer: the rest of the body is not sent,
// and a failure to send it does not matter. The only other STOW-RS client in the repository is
// the operator's `npm run smoke` (stacks/smoke/stow-client.ts, which says why it is apart).
import { once } from "node:events";
import { request, type Agent, type IncomingHttpHeaders } from "node:http";
import { request as httpsRequest } from "node:https";
import { multipartContentType } from "./multipart.js";

/** What any client in the tests got back from the service. */
export interface StowReply {
  status: number;
  headers: Headers;
  /** The answer's Content-Type, "" when there is none. */
  contentType: string;
  text: string;
  /** The body parsed as JSON; undefined when it is not JSON. */
  json: any;
  /** ms from sending the request to the end of the answer. */
  ms: number;
}

export type StowBody = Uint8Array | Uint8Array[] | { length: number; chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array> };

export interface StowOptions {
  /** Default /studies. */
  path?: string;
  /** Replace the default (Accept: application/dicom+json); a Content-Type here replaces the multipart one. */
  headers?: Record<string, string>;
  /** Default: Node's global agent (for an https:// URL, an https.Agent carrying the CA and client certificate). */
  agent?: Agent;
  /** Send with Transfer-Encoding: chunked instead of Content-Length. */
  chunked?: boolean;
}

/** Builds the reply from what a client received; `startedAt` is performance.now() when it sent the request. */
export function stowReply(status: number, headers: IncomingHttpHeaders | Headers, text: string, startedAt: number): StowReply {
  const h = headers instanceof Headers ? headers : new Headers();
  if (!(headers instanceof Headers)) {
    for (const [name, value] of Object.entries(headers)) {
      for (const v of Array.isArray(value) ? value : value === undefined ? [] : [value]) h.append(name, v);
    }
  }
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status, headers: h, contentType: h.get("content-type") ?? "", text, json, ms: performance.now() - startedAt };
}

export async function postStow(url: string, body: StowBody, boundary: string, opts: StowOptions = {}): Promise<StowReply> {
  const startedAt = performance.now();
  const pieces = body instanceof Uint8Array ? [body] : body;
  const length = Array.isArray(pieces) ? pieces.reduce((n, b) => n + b.length, 0) : pieces.length;
  const send = url.startsWith("https:") ? httpsRequest : request;
  const req = send(`${url}${opts.path ?? "/studies"}`, {
    method: "POST",
    agent: opts.agent,
    headers: {
      "Content-Type": multipartContentType(boundary),
      ...(opts.chunked ? { "Transfer-Encoding": "chunked" } : { "Content-Length": String(length) }),
      ...(opts.headers ?? { Accept: "application/dicom+json" }),
    },
  });
  let answered = false;
  const response = new Promise<StowReply>((resolve, reject) => {
    req.once("response", async (res) => {
      // Once the answer is here, a failing write of the rest of the body does not matter.
      answered = true;
      req.on("error", () => undefined);
      // Answered before the whole body was handed over (503 at capacity, 413): the rest is not
      // sent, and the connection does not go back to the agent, which would hold it for a moment
      // without an error listener while an EPIPE for the unsent body may still arrive.
      if (!req.writableEnded) req.shouldKeepAlive = false;
      const parts: Buffer[] = [];
      try {
        for await (const c of res) parts.push(c as Buffer);
      } catch (err) {
        reject(err);
        return;
      }
      resolve(stowReply(res.statusCode ?? 0, res.headers, Buffer.concat(parts).toString("utf8"), startedAt));
    });
    req.once("error", reject);
  });
  // Unhandled while still writing; awaited below.
  response.catch(() => undefined);
  const write = async () => {
    try {
      for await (const chunk of Array.isArray(pieces) ? pieces : pieces.chunks) {
        if (req.destroyed || answered) break;
        if (!req.write(chunk)) await Promise.race([once(req, "drain"), response.then(() => undefined)]);
      }
      if (!req.destroyed) req.end();
    } catch (err) {
      if (!answered) throw err;
    }
  };
  const writing = write();
  writing.catch(() => undefined);
  try {
    await Promise.race([writing, response]);
  } catch (err) {
    req.destroy();
    throw err;
  }
  return response;
}

/**
 * One instance as the whole body, `Content-Type: application/dicom` (or `contentType`), as
 * Microsoft's DICOM server, the Azure DICOM service and curl --data-binary users send it.
 */
export function postSinglePart(url: string, body: StowBody, opts: StowOptions & { contentType?: string } = {}): Promise<StowReply> {
  const headers = { Accept: "application/dicom+json", ...opts.headers, "Content-Type": opts.contentType ?? "application/dicom" };
  return postStow(url, body, "", { ...opts, headers });
}
