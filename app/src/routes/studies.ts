// POST /studies and POST /studies/{StudyInstanceUID}: the STOW-RS store transaction, with a
// multipart/related body or a single application/dicom instance.
import type { IncomingMessage } from "node:http";
import type { Context } from "hono";
import { Hono } from "hono";
import type { RequestIdVariables } from "hono/request-id";
import { principalOf } from "../auth/bearer-guard.js";
import { isValidUid } from "../dicom/uid.js";
import { parseStowContentType } from "../multipart/content-type.js";
import { MultipartReader } from "../multipart/reader.js";
import type { ServiceContext } from "../service-context.js";
import { negotiateResponse } from "../stow/accept.js";
import { rateLimitedBody } from "../stow/body-rate.js";
import { limitedBody } from "../stow/body-source.js";
import type { PartReader } from "../stow/part-reader.js";
import { SinglePartReader } from "../stow/single-part-reader.js";
import { statusOf } from "../stow/outcome.js";
import { storeInstances } from "../stow/store-instances.js";
import { errorResponse } from "./error-response.js";
import { storeAnswer } from "./store-answer.js";

type Env = { Bindings: { incoming?: IncomingMessage }; Variables: RequestIdVariables };

export function studiesRoutes(svc: ServiceContext) {
  // The request id comes from app.ts's requestId middleware, in front of these routes.
  const routes = new Hono<Env>();
  routes.post("/studies", (c) => store(c, svc, undefined));
  routes.post("/studies/:study", (c) => {
    const study = c.req.param("study");
    // Checked before the body is read: a bad UID must never reach a key.
    if (!isValidUid(study)) {
      return errorResponse(c, 400, "the StudyInstanceUID in the path is not a valid UID (PS3.5 9.1: digits and dots, at most 64 characters)");
    }
    return store(c, svc, study);
  });
  return routes;
}

async function store(c: Context<Env>, svc: ServiceContext, studyUidFromPath: string | undefined) {
  const { config, metrics } = svc;
  const started = Date.now();
  const clientDn = c.req.header("x-client-dn") || undefined;
  const log = svc.log.child({ requestId: c.var.requestId, ...principalOf(c) });

  const reject = (status: 400 | 406 | 413 | 415 | 503, message: string) => {
    metrics.requests.inc({ status: String(status) });
    log.info({ status, clientDn, path: c.req.path, error: message, ms: Date.now() - started }, "request rejected");
    return errorResponse(c, status, message);
  };

  const format = negotiateResponse(c.req.header("accept"));
  if (!format) return reject(406, "no acceptable response media type; this service answers application/dicom+json or application/dicom+xml");
  const contentType = parseStowContentType(c.req.header("content-type"));
  if (!contentType.ok) return reject(contentType.status, contentType.message);
  const encoding = (c.req.header("content-encoding") ?? "identity").trim().toLowerCase();
  if (encoding !== "identity" && encoding !== "") return reject(415, `Content-Encoding ${encoding} is not supported; send the body uncompressed`);
  const declaredLength = Number(c.req.header("content-length") ?? "NaN");
  if (declaredLength > config.maxRequestBytes) {
    c.header("Connection", "close");
    return reject(413, `request body of ${declaredLength} bytes exceeds MAX_REQUEST_BYTES (${config.maxRequestBytes})`);
  }
  if (svc.shuttingDown) {
    c.header("Retry-After", "5");
    c.header("Connection", "close");
    return reject(503, "the service is shutting down; retry on another instance");
  }
  // At capacity now: refused before any of the body is read. Otherwise the request holds no slot
  // until its first instance needs one (stow/store-instances.ts), which it takes if free or is
  // refused then: a client trickling its first bytes holds no capacity, and nothing waits in a queue.
  const atCapacity = () => {
    metrics.overloadRejections.inc();
    c.header("Retry-After", "5");
    // Keep the connection: Node then reads and discards the unread body, so a client that sends its
    // whole body before reading gets this 503 and its Retry-After instead of a broken pipe.
    return reject(503, `the service is at capacity (MAX_INSTANCES_IN_FLIGHT=${config.maxInstancesInFlight}); retry later`);
  };
  if (svc.instanceSlots.inUse >= svc.instanceSlots.capacity) return atCapacity();

  let received = 0;
  const body: AsyncIterable<Uint8Array> = c.env?.incoming ?? (c.req.raw.body as unknown as AsyncIterable<Uint8Array>) ?? [];
  // From the first byte on, a body slower than BODY_MIN_BYTES_PER_SECOND is cut off (408).
  const source = rateLimitedBody(
    limitedBody(body, config.maxRequestBytes, (n) => {
      received += n;
      metrics.bytesReceived.inc(n);
    }),
    config.bodyRate,
  );
  // A single-part body is read as one part, so everything after this line is the same for both forms.
  const reader: PartReader =
    contentType.form === "single-part" ? new SinglePartReader(source, c.req.header("content-type") ?? "application/dicom") : new MultipartReader(source, contentType.boundary);
  svc.activeRequests += 1;
  let result;
  try {
    result = await storeInstances(svc, { reader, rootType: contentType.rootType, studyUidFromPath, log, sender: senderOf(c, clientDn) });
  } finally {
    svc.activeRequests -= 1;
  }
  if (result.requestError?.status === 503) {
    // Refused at its first instance, nothing stored: the rest of the body is read and dropped
    // (still at the minimum rate), so that the client sees the 503 rather than a reset.
    void discard(source);
    return atCapacity();
  }
  result.bytes = received;
  // From here on, a fault still answers with what was stored (error-response.ts, faultHandler).
  c.set("storeAnswer", { result, format });
  if (config.responseDelayMs > 0) await new Promise((r) => setTimeout(r, config.responseDelayMs));

  const status = statusOf(result);
  const stored = result.instances.filter((i) => i.stored).length;
  const failed = result.instances.length - stored + result.otherFailures.length;
  metrics.requests.inc({ status: String(status) });
  log.info(
    { status, clientDn, path: c.req.path, parts: result.parts, bytes: result.bytes, stored, failed, ms: Date.now() - started, error: result.requestError?.message, s3Unavailable: result.s3Unavailable },
    "store request",
  );

  return storeAnswer(c, { result, format }, config.wadoUrl);
}

/** Reads what is left of a body and drops it; stops at the first failure (too slow, too large, gone). */
async function discard(source: AsyncIterator<Uint8Array>): Promise<void> {
  try {
    while (!(await source.next()).done);
  } catch {
    /* the connection is closed after the answer anyway */
  }
}

/**
 * Who sent the request, as far as the service can tell: the client certificate subject (the nginx
 * front's X-Client-DN), the bearer token's sub and client id, the address the front saw
 * (X-Forwarded-For, set by the front) and the address of the connection itself.
 */
function senderOf(c: Context<Env>, clientDn: string | undefined): Record<string, string | undefined> {
  const visible = (v: string | undefined) => (v === undefined || v === "" ? undefined : v.replace(/[^\x20-\x7e]/g, "?").slice(0, 256));
  return {
    clientDn: visible(clientDn),
    ...principalOf(c),
    forwardedFor: visible(c.req.header("x-forwarded-for")),
    clientAddress: c.env?.incoming?.socket?.remoteAddress,
  };
}
