// One STOW-RS request: read parts one after another, read each part's DICOM header, and stream
// the part into S3 while the next parts are read, within the configured concurrency.
import type { Logger } from "pino";
import { readDicomHeader, type DicomHeader, type HeaderResult } from "../dicom/header.js";
import { parseMediaType } from "../multipart/content-type.js";
import { MultipartError, type PartHead } from "../multipart/reader.js";
import { InstanceUpload, UploadFailed } from "../storage/instance-upload.js";
import { objectKey } from "../storage/object-key.js";
import { HEADS_BEFORE_LISTING, SeriesListing } from "../storage/series-listing.js";
import type { ServiceContext } from "../service-context.js";
import { Semaphore } from "../util/semaphore.js";
import { RequestTooLarge } from "./body-source.js";
import type { InstanceOutcome, StoreResult } from "./outcome.js";
import type { PartReader } from "./part-reader.js";
import { Reason } from "./reasons.js";

export type StoreDeps = Pick<ServiceContext, "config" | "metrics" | "storage" | "instanceSlots">;

export interface StoreRequest {
  reader: PartReader;
  rootType: string;
  studyUidFromPath?: string;
  log: Logger;
  /** The request was admitted holding one process-wide slot: its first instance uploads with it. */
  reservedSlot?: boolean;
}

/** First header read attempt after this many bytes; then after 4x as many, and so on. */
const FIRST_HEADER_ATTEMPT = 16 * 1024;

/** Warning: data set does not match SOP class (File Meta and data set disagree). */
const WARNING_META_MISMATCH = 0xb007;

export async function storeInstances(deps: StoreDeps, req: StoreRequest): Promise<StoreResult> {
  const { config, metrics } = deps;
  const result: StoreResult = { instances: [], otherFailures: [], parts: 0, bytes: 0 };
  const requestSlots = new Semaphore(config.upload.instanceConcurrency);
  const listing = new SeriesListing(
    deps.storage.client,
    deps.storage.bucket,
    deps.storage.conditionalWrites.usable() ? HEADS_BEFORE_LISTING.conditional : HEADS_BEFORE_LISTING.headFirst,
  );
  const pending: Promise<void>[] = [];
  // The last upload of each key in this request, until it has finished.
  const uploading = new Map<string, Promise<unknown>>();
  // Once S3 is known to be unavailable, later instances fail at once instead of each waiting out retries.
  let s3Unavailable = false;
  // Whether the part that broke the request off already has its failure recorded.
  let brokenPartRecorded = false;
  let reserved = req.reservedSlot === true;

  const record = (outcome: InstanceOutcome, partIndex: number) => {
    order.set(outcome, partIndex);
    result.instances.push(outcome);
    const label = outcome.stored ? "stored" : "failed";
    metrics.instances.inc({ outcome: label, reason: outcome.stored ? "" : String(outcome.reason) });
  };
  const order = new Map<InstanceOutcome, number>();
  let currentPart = -1;
  const otherFailure = (reason: (typeof Reason)[keyof typeof Reason], message: string) => {
    result.otherFailures.push({ reason, message });
    metrics.instances.inc({ outcome: "failed", reason: String(reason) });
  };
  const failInstance = (header: Partial<DicomHeader>, reason: (typeof Reason)[keyof typeof Reason], message: string) => {
    if (header.sopInstanceUid) {
      record({ sopClassUid: header.sopClassUid, sopInstanceUid: header.sopInstanceUid, studyUid: header.studyUid, seriesUid: header.seriesUid, stored: false, reason, message }, currentPart);
    } else otherFailure(reason, message);
  };

  try {
    for (let head = await req.reader.nextPart(); head; head = await req.reader.nextPart()) {
      result.parts += 1;
      currentPart = head.index;
      const partIndex = head.index;
      const partType = partMediaType(head, req.rootType);
      if (partType !== "application/dicom") {
        await req.reader.skipBody();
        otherFailure(Reason.CannotUnderstand, `part ${head.index + 1}: media type ${partType || "(empty)"} is not application/dicom`);
        continue;
      }

      // Read just enough of the part to know what it is.
      const prefix: Buffer[] = [];
      let prefixBytes = 0;
      let complete = false;
      let nextAttempt = FIRST_HEADER_ATTEMPT;
      let parsed: HeaderResult = { kind: "more" };
      for (;;) {
        let chunk: Buffer | null;
        try {
          chunk = await req.reader.readBody();
        } catch (err) {
          // Cut off before its header could be read: name the instance if the bytes so far allow it.
          const partial = readDicomHeader(Buffer.concat(prefix), false);
          failInstance(
            partial.kind === "ok" ? partial.header : partial.kind === "invalid" ? partial.partial : {},
            err instanceof RequestTooLarge ? Reason.OutOfResources : Reason.CannotUnderstand,
            err instanceof RequestTooLarge ? err.message : `part ${head.index + 1} ended before its closing boundary (truncated instance)`,
          );
          brokenPartRecorded = true;
          throw err;
        }
        if (chunk === null) complete = true;
        else {
          prefix.push(chunk);
          prefixBytes += chunk.length;
        }
        if (complete || prefixBytes >= nextAttempt) {
          if (prefix.length > 1) prefix.splice(0, prefix.length, Buffer.concat(prefix));
          parsed = readDicomHeader(prefix[0] ?? Buffer.alloc(0), complete);
          nextAttempt = prefixBytes * 4;
          if (parsed.kind !== "more" || complete) break;
        }
      }
      if (prefixBytes > config.maxInstanceBytes) {
        if (!complete) await req.reader.skipBody();
        failInstance(parsed.kind === "ok" ? parsed.header : parsed.kind === "invalid" ? parsed.partial : {}, Reason.OutOfResources, `instance exceeds MAX_INSTANCE_BYTES (${config.maxInstanceBytes})`);
        continue;
      }
      if (parsed.kind !== "ok") {
        if (!complete) await req.reader.skipBody();
        const why = parsed.kind === "invalid" ? parsed.message : "unreadable DICOM header";
        failInstance(parsed.kind === "invalid" ? parsed.partial : {}, parsed.kind === "invalid" ? (parsed.reason as never) : Reason.CannotUnderstand, `part ${head.index + 1}: ${why}`);
        continue;
      }
      const header = parsed.header;
      if (req.studyUidFromPath !== undefined && header.studyUid !== req.studyUidFromPath) {
        if (!complete) await req.reader.skipBody();
        failInstance(header, Reason.StudyInstanceUIDMismatch, "Study Instance UID differs from the study in the request path");
        continue;
      }
      if (s3Unavailable) {
        if (!complete) await req.reader.skipBody();
        failInstance(header, Reason.OutOfResources, "S3 is unavailable (an earlier instance of this request failed)");
        continue;
      }

      // The same instance again in this request: its upload starts (and looks at the key) only
      // once the earlier one is done, so the duplicate rules see that object instead of racing it.
      const key = objectKey(config.prefix, header);
      await uploading.get(key)?.catch(() => undefined);

      await requestSlots.acquire();
      if (reserved) reserved = false;
      else await deps.instanceSlots.acquire();
      const release = () => {
        deps.instanceSlots.release();
        requestSlots.release();
      };
      const upload = new InstanceUpload(
        {
          client: deps.storage.client,
          bucket: deps.storage.bucket,
          partSizeBytes: config.upload.partSizeBytes,
          partConcurrency: config.upload.partConcurrency,
          duplicatePolicy: config.duplicatePolicy,
          checksums: deps.storage.amazonS3,
          metrics,
          log: req.log,
          listing,
          conditionalWrites: deps.storage.conditionalWrites,
        },
        key,
        header,
      );
      const started = Date.now();
      let bytes = 0;
      let failure: { reason: (typeof Reason)[keyof typeof Reason]; message: string } | undefined;
      try {
        for (let chunk: Buffer | null = prefix[0] ?? null; chunk; chunk = complete ? null : await req.reader.readBody()) {
          bytes += chunk.length;
          if (bytes > config.maxInstanceBytes) {
            failure = { reason: Reason.OutOfResources, message: `instance exceeds MAX_INSTANCE_BYTES (${config.maxInstanceBytes})` };
            break;
          }
          await upload.write(chunk);
          if (complete) break;
        }
      } catch (err) {
        if (err instanceof UploadFailed) {
          failure = { reason: err.reason, message: err.message };
          if (err.reason === Reason.OutOfResources) s3Unavailable = true;
        } else {
          // The body broke off inside this part: the instance is incomplete, and the request is over.
          await upload.abort();
          release();
          if (err instanceof RequestTooLarge) failInstance(header, Reason.OutOfResources, err.message);
          else failInstance(header, Reason.CannotUnderstand, "the part ended before its closing boundary (truncated instance)");
          brokenPartRecorded = true;
          throw err;
        }
      }
      prefix.length = 0;
      if (failure) {
        await upload.abort();
        release();
        failInstance(header, failure.reason, failure.message);
        if (!complete) await req.reader.skipBody();
        continue;
      }
      const finished = upload.finish();
      uploading.set(key, finished);
      pending.push(
        finished.then((r) => {
          release();
          const warning =
            (header.metaSopInstanceUid && header.metaSopInstanceUid !== header.sopInstanceUid) ||
            (header.metaSopClassUid && header.metaSopClassUid !== header.sopClassUid)
              ? WARNING_META_MISMATCH
              : undefined;
          const base = { sopClassUid: header.sopClassUid, sopInstanceUid: header.sopInstanceUid, studyUid: header.studyUid, seriesUid: header.seriesUid };
          if (r.stored) {
            record({ ...base, stored: true, warning }, partIndex);
            req.log.debug({ key: r.key, bytes: r.bytes, sha256: r.sha256, duplicate: r.duplicate, ms: Date.now() - started }, "instance stored");
          } else {
            if (r.reason === Reason.OutOfResources) s3Unavailable = true;
            record({ ...base, stored: false, reason: r.reason, message: r.message }, partIndex);
            req.log.warn({ key: r.key, bytes, reason: r.reason, error: r.message, ms: Date.now() - started }, "instance not stored");
          }
        }),
      );
    }
    await req.reader.drain();
  } catch (err) {
    if (err instanceof RequestTooLarge) {
      result.requestError = { status: 413, message: err.message };
      if (!brokenPartRecorded) otherFailure(Reason.OutOfResources, err.message);
    } else if (err instanceof MultipartError) {
      result.requestError = { status: 400, message: err.message };
      if (!brokenPartRecorded) otherFailure(Reason.CannotUnderstand, err.message);
    } else throw err;
  } finally {
    await Promise.all(pending);
    if (reserved) deps.instanceSlots.release();
  }
  // Uploads finish in any order; report instances in the order of their parts.
  result.instances.sort((a, b) => order.get(a)! - order.get(b)!);
  return result;
}

function partMediaType(head: PartHead, rootType: string): string {
  const header = head.headers.get("content-type");
  if (header === undefined || header.trim() === "") return rootType;
  return parseMediaType(header)?.essence ?? header.trim().toLowerCase();
}
