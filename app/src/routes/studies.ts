// POST /studies and POST /studies/{StudyInstanceUID}: the STOW-RS store transaction, with a
// multipart/related body or a single application/dicom instance.
import type { Readable } from "node:stream";
import type { Context } from "hono";
import { Hono } from "hono";
import type { RequestIdVariables } from "hono/request-id";
import { principalOf } from "../auth/bearer-guard.js";
import { isValidUid } from "../dicom/uid.js";
import { parseStowContentType } from "../multipart/content-type.js";
import { MultipartReader } from "../multipart/reader.js";
import type { ServiceContext } from "../service-context.js";
import { negotiateResponse } from "../stow/accept.js";
import { limitedBody } from "../stow/body-source.js";
import type { PartReader } from "../stow/part-reader.js";
import { SinglePartReader } from "../stow/single-part-reader.js";
import { statusOf } from "../stow/outcome.js";
import { buildStoreResponse } from "../stow/response.js";
import { toNativeDicomModel } from "../stow/response-xml.js";
import { storeInstances } from "../stow/store-instances.js";
import { errorResponse } from "./error-response.js";

type Env = { Bindings: { incoming?: Readable }; Variables: RequestIdVariables };

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
  // Admission takes a slot (the first instance's), so that requests arriving together cannot all
  // pass this check before any of them holds one, and then wait in an unbounded queue.
  const admission = svc.instanceSlots.tryAcquire();
  if (!admission) {
    metrics.overloadRejections.inc();
    c.header("Retry-After", "5");
    // Keep the connection: Node then reads and discards the unread body, so a client that sends its
    // whole body before reading gets this 503 and its Retry-After instead of a broken pipe.
    return reject(503, `the service is at capacity (MAX_INSTANCES_IN_FLIGHT=${config.maxInstancesInFlight}); retry later`);
  }

  let received = 0;
  const body: AsyncIterable<Uint8Array> = c.env?.incoming ?? (c.req.raw.body as unknown as AsyncIterable<Uint8Array>) ?? [];
  const source = limitedBody(body, config.maxRequestBytes, (n) => {
    received += n;
    metrics.bytesReceived.inc(n);
  });
  // A single-part body is read as one part, so everything after this line is the same for both forms.
  const reader: PartReader =
    contentType.form === "single-part" ? new SinglePartReader(source, c.req.header("content-type") ?? "application/dicom") : new MultipartReader(source, contentType.boundary);
  svc.activeRequests += 1;
  let result;
  try {
    result = await storeInstances(svc, { reader, rootType: contentType.rootType, studyUidFromPath, log, admission });
  } finally {
    admission.release();
    svc.activeRequests -= 1;
  }
  result.bytes = received;
  if (config.responseDelayMs > 0) await new Promise((r) => setTimeout(r, config.responseDelayMs));

  const status = statusOf(result);
  const stored = result.instances.filter((i) => i.stored).length;
  const failed = result.instances.length - stored + result.otherFailures.length;
  metrics.requests.inc({ status: String(status) });
  log.info(
    { status, clientDn, path: c.req.path, parts: result.parts, bytes: result.bytes, stored, failed, ms: Date.now() - started, error: result.requestError?.message, s3Unavailable: result.s3Unavailable },
    "store request",
  );

  // The first problem in words, for people reading responses; the body carries every reason as a number.
  const problem = result.requestError?.message ?? [...result.instances.filter((i) => !i.stored), ...result.otherFailures][0]?.message;
  if (problem) c.header("Warning", `299 stowrs-to-s3 "${problem.replace(/["\\\r\n]/g, " ").slice(0, 200)}"`);
  if (result.requestError) c.header("Connection", "close");
  const json = buildStoreResponse(result, config.wadoUrl);
  c.header("Content-Type", format.contentType);
  return c.body(format.format === "xml" ? toNativeDicomModel(json) : JSON.stringify(json), status);
}
