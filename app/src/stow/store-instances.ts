// One STOW-RS request: the parts are read one after another; each is taken through three steps
// (read its header prefix, upload its body, record its outcome), and its upload finishes while
// the next parts are read, within the configured concurrency.
import type { Logger } from "pino";
import type { DicomHeader } from "../dicom/dicom-header.js";
import { parseMediaType } from "../multipart/content-type.js";
import { MultipartError } from "../multipart/reader.js";
import { InstanceUpload, type UploadResult } from "../storage/instance-upload.js";
import { objectKey } from "../storage/object-key.js";
import { HEADS_BEFORE_LISTING, SeriesListing } from "../storage/series-listing.js";
import { UploadFailed } from "../storage/storage-failure.js";
import type { ServiceContext } from "../service-context.js";
import { Semaphore, type Permit } from "../util/semaphore.js";
import { BodyTooSlow } from "./body-rate.js";
import { RequestTooLarge } from "./body-source.js";
import { HeaderPrefix } from "./header-prefix.js";
import type { InstanceOutcome, StoreResult } from "./outcome.js";
import type { PartHead, PartReader } from "./part-reader.js";
import { Reason, reasonForHeaderProblem, reasonForStorageFailure, type ReasonCode } from "./reasons.js";

/** The process's shared parts a request uses; they are also every instance upload's settings (storage/upload-settings.ts). */
export type StoreDeps = Pick<ServiceContext, "config" | "metrics" | "storage" | "instanceSlots">;

export interface StoreRequest {
  reader: PartReader;
  rootType: string;
  studyUidFromPath?: string;
  log: Logger;
  /** Who sent the request, for the audit line of an overwrite (never patient data). */
  sender?: Record<string, string | undefined>;
}

/**
 * The request's first instance found no free process slot (MAX_INSTANCES_IN_FLIGHT): the request
 * is refused as a whole (503), nothing of it stored.
 */
export class AtCapacity extends Error {
  constructor(readonly capacity: number) {
    super(`the service is at capacity (MAX_INSTANCES_IN_FLIGHT=${capacity}); retry later`);
    this.name = "AtCapacity";
  }
}

/** Warning: data set does not match SOP class (File Meta and data set disagree). */
const WARNING_META_MISMATCH = 0xb007;
/** The words of a processing failure that is the service's own fault (details in its log only). */
const FAULT = "processing failure (a fault of the service; see its log)";

type Failure = { reason: ReasonCode; message: string };

/** Never throws: whatever happens once the body is being read, the answer lists what was stored. */
export async function storeInstances(deps: StoreDeps, req: StoreRequest): Promise<StoreResult> {
  const run = new StoreRun(deps, req);
  try {
    for (let head = await req.reader.nextPart(); head; head = await req.reader.nextPart()) await run.storePart(head);
    await req.reader.drain();
  } catch (err) {
    run.endedEarly(err);
    // Past the parts limit the body is still sound: read it to its end (discarding it), so that a
    // client still sending gets the answer instead of a reset connection.
    if (err instanceof MultipartError && err.kind === "parts") await req.reader.drain().catch(() => undefined);
  } finally {
    await run.settled();
  }
  return run.result();
}

/** A request body that stopped being readable (cut off, malformed, over a limit, too slow): not a fault of the service. */
function isBodyFailure(err: unknown): boolean {
  return err instanceof RequestTooLarge || err instanceof BodyTooSlow || err instanceof MultipartError;
}

/** The state of one request while its parts go through. */
class StoreRun {
  private readonly outcome: StoreResult = { instances: [], otherFailures: [], parts: 0, bytes: 0 };
  /** Part index of each instance outcome: uploads finish in any order, the answer lists them in order. */
  private readonly order = new Map<InstanceOutcome, number>();
  private readonly requestSlots: Semaphore;
  /** Made with the first instance, so that nothing that can fail runs before the parts are read. */
  private listing: SeriesListing | undefined;
  private readonly uploads: Promise<void>[] = [];
  /** The latest upload of each key in this request, while it has not finished. */
  private readonly uploading = new Map<string, Promise<unknown>>();
  /**
   * Whether an instance of this request has had a process slot. The request holds none until
   * then (a client trickling its first bytes holds no capacity), and its first instance takes a
   * free one or the request is refused: never a place in a queue.
   */
  private admitted = false;
  /** Once S3 is known to be unavailable, later instances fail at once instead of each waiting out retries. */
  private s3Unavailable = false;
  /** Whether the part that broke the request off already has its failure recorded. */
  private brokenPartRecorded = false;

  constructor(
    private readonly deps: StoreDeps,
    private readonly req: StoreRequest,
  ) {
    this.requestSlots = new Semaphore(deps.config.upload.instanceConcurrency);
  }

  private seriesListing(): SeriesListing {
    const { storage } = this.deps;
    return (this.listing ??= new SeriesListing(
      storage.client,
      storage.bucket,
      storage.conditionalWrites.usable() ? HEADS_BEFORE_LISTING.conditional : HEADS_BEFORE_LISTING.headFirst,
    ));
  }

  async storePart(head: PartHead): Promise<void> {
    const { reader } = this.req;
    this.outcome.parts += 1;
    const partType = partMediaType(head, this.req.rootType);
    if (partType !== "application/dicom") {
      await reader.skipBody();
      this.otherFailure(Reason.CannotUnderstand, `part ${head.index + 1}: media type ${partType || "(empty)"} is not application/dicom`);
      return;
    }

    // Step 1: read just enough of the part to know what instance it is; a header that needs more
    // than the first attempt's bytes is read under the slots its upload will use.
    const prefix = new HeaderPrefix();
    let taken: Permit | undefined;
    try {
      await prefix.read(reader, async () => void (taken = await this.takeSlots()));
    } catch (err) {
      taken?.release();
      if (err instanceof AtCapacity) throw err;
      // Cut off before its header could be read: name the instance if the bytes so far allow it.
      this.brokenPart(head.index, prefix.named(), err, `part ${head.index + 1} ended before its closing boundary (truncated instance)`);
      throw err;
    }
    const judged = this.judge(head, prefix);
    if ("refusal" in judged) {
      taken?.release();
      if (!prefix.complete) await reader.skipBody();
      this.failInstance(head.index, judged.named, judged.refusal);
      return;
    }
    const { header } = judged;
    const key = objectKey(this.deps.config.prefix, header);
    // The same instance again in this request: its upload starts (and looks at the key) only once
    // the earlier one has finished, so the duplicate rules see that object instead of racing it.
    await this.uploading.get(key)?.catch(() => undefined);

    // Step 2: upload the part's bytes as they arrive, under a slot of the request and one of the process.
    const slots = taken ?? (await this.takeSlots());
    const upload = new InstanceUpload(this.deps, key, header, { log: this.req.log, listing: this.seriesListing() });
    const started = Date.now();
    const written = await this.uploadBody(head, prefix, upload, header, slots);
    if (written.failure) {
      await upload.abort();
      slots.release();
      this.failInstance(head.index, header, written.failure);
      if (!prefix.complete) await reader.skipBody();
      return;
    }

    // Step 3: record the outcome once S3 has answered; the next parts are read meanwhile.
    const finished = upload.finish();
    this.uploading.set(key, finished);
    this.uploads.push(
      finished.then(
        (result) => {
          slots.release();
          if (this.uploading.get(key) === finished) this.uploading.delete(key);
          this.recordUpload(head.index, header, result, written.bytes, started);
        },
        (err: unknown) => {
          // finish() settles every S3 outcome itself; landing here is a fault of the service.
          slots.release();
          if (this.uploading.get(key) === finished) this.uploading.delete(key);
          this.fault(err);
          this.failInstance(head.index, header, { reason: Reason.ProcessingFailure, message: FAULT });
        },
      ),
    );
  }

  /** The instance the prefix names, or why the part is not uploaded at all (and what it names). */
  private judge(head: PartHead, prefix: HeaderPrefix): { header: DicomHeader } | { refusal: Failure; named: Partial<DicomHeader> } {
    const { config } = this.deps;
    const parsed = prefix.header;
    if (prefix.bytes > config.maxInstanceBytes) {
      return { named: prefix.named(), refusal: { reason: Reason.OutOfResources, message: `instance exceeds MAX_INSTANCE_BYTES (${config.maxInstanceBytes})` } };
    }
    if (parsed.kind === "invalid") {
      return { named: parsed.partial, refusal: { reason: reasonForHeaderProblem(parsed.problem), message: `part ${head.index + 1}: ${parsed.message}` } };
    }
    if (parsed.kind === "more") return { named: {}, refusal: { reason: Reason.CannotUnderstand, message: `part ${head.index + 1}: unreadable DICOM header` } };
    const header = parsed.header;
    if (this.req.studyUidFromPath !== undefined && header.studyUid !== this.req.studyUidFromPath) {
      return { named: header, refusal: { reason: Reason.StudyInstanceUIDMismatch, message: "Study Instance UID differs from the study in the request path" } };
    }
    if (this.s3Unavailable) {
      return { named: header, refusal: { reason: Reason.OutOfResources, message: "S3 is unavailable (an earlier instance of this request failed)" } };
    }
    return { header };
  }

  /**
   * One slot of the request's UPLOAD_INSTANCE_CONCURRENCY and one of the process's
   * MAX_INSTANCES_IN_FLIGHT: the request's first one free now (else AtCapacity), later ones in turn.
   */
  private async takeSlots(): Promise<Permit> {
    const request = await this.requestSlots.acquire();
    let process: Permit | null;
    if (this.admitted) process = await this.deps.instanceSlots.acquire();
    else {
      process = this.deps.instanceSlots.tryAcquire();
      if (!process) {
        request.release();
        throw new AtCapacity(this.deps.config.maxInstancesInFlight);
      }
      this.admitted = true;
    }
    return {
      release() {
        process.release();
        request.release();
      },
    };
  }

  /** The prefix, then the rest of the part, into the upload. Resolves with a failure that ends this instance only. */
  private async uploadBody(head: PartHead, prefix: HeaderPrefix, upload: InstanceUpload, header: DicomHeader, slots: Permit): Promise<{ bytes: number; failure?: Failure }> {
    const { config } = this.deps;
    let bytes = 0;
    try {
      for (let chunk: Buffer | null = prefix.chunks[0] ?? null; chunk; chunk = prefix.complete ? null : await this.req.reader.readBody()) {
        bytes += chunk.length;
        if (bytes > config.maxInstanceBytes) return { bytes, failure: { reason: Reason.OutOfResources, message: `instance exceeds MAX_INSTANCE_BYTES (${config.maxInstanceBytes})` } };
        await upload.write(chunk);
        if (prefix.complete) break;
      }
    } catch (err) {
      if (err instanceof UploadFailed) {
        if (err.failure === "s3-unavailable") this.s3Unavailable = true;
        return { bytes, failure: { reason: reasonForStorageFailure(err.failure), message: err.message } };
      }
      // The body broke off inside this part: the instance is incomplete, and the request is over.
      await upload.abort();
      slots.release();
      this.brokenPart(head.index, header, err, "the part ended before its closing boundary (truncated instance)");
      throw err;
    } finally {
      prefix.chunks = [];
    }
    return { bytes };
  }

  private recordUpload(partIndex: number, header: DicomHeader, r: UploadResult, bytes: number, started: number): void {
    const { log } = this.req;
    const base = { sopClassUid: header.sopClassUid, sopInstanceUid: header.sopInstanceUid, studyUid: header.studyUid, seriesUid: header.seriesUid };
    if (r.stored) {
      const mismatch =
        (header.metaSopInstanceUid && header.metaSopInstanceUid !== header.sopInstanceUid) || (header.metaSopClassUid && header.metaSopClassUid !== header.sopClassUid);
      this.record({ ...base, stored: true, warning: mismatch ? WARNING_META_MISMATCH : undefined }, partIndex);
      log.debug({ key: r.key, bytes: r.bytes, sha256: r.sha256, duplicate: r.duplicate, ms: Date.now() - started }, "instance stored");
      if (r.duplicate === "overwritten") {
        // An audit trail: other bytes under this SOP Instance UID were replaced, by whom (UIDs, hashes
        // and the sender's identity; nothing of the data set).
        this.deps.metrics.overwrites.inc();
        log.warn(
          { key: r.key, sha256: r.sha256, bytes: r.bytes, previousSha256: r.replaced?.sha256 ?? null, previousBytes: r.replaced?.size, sender: this.req.sender ?? {} },
          "instance overwritten: the key held different bytes",
        );
      }
    } else {
      if (r.failure === "s3-unavailable") this.s3Unavailable = true;
      const reason = reasonForStorageFailure(r.failure);
      this.record({ ...base, stored: false, reason, message: r.message }, partIndex);
      log.warn({ key: r.key, bytes, reason, error: r.message, ms: Date.now() - started }, "instance not stored");
    }
  }

  /** A part that broke the request off: its failure, named as far as its bytes allow. */
  private brokenPart(partIndex: number, named: Partial<DicomHeader>, err: unknown, truncated: string): void {
    if (err instanceof RequestTooLarge || err instanceof BodyTooSlow) this.failInstance(partIndex, named, { reason: Reason.OutOfResources, message: err.message });
    else if (isBodyFailure(err)) this.failInstance(partIndex, named, { reason: Reason.CannotUnderstand, message: truncated });
    else this.failInstance(partIndex, named, { reason: Reason.ProcessingFailure, message: FAULT });
    this.brokenPartRecorded = true;
  }

  /** The request body could not be read to its end, or a fault of the service broke the request off. */
  endedEarly(err: unknown): void {
    if (err instanceof RequestTooLarge) {
      this.outcome.requestError = { status: 413, message: err.message };
      if (!this.brokenPartRecorded) this.otherFailure(Reason.OutOfResources, err.message);
    } else if (err instanceof BodyTooSlow) {
      this.outcome.requestError = { status: 408, message: err.message };
      if (!this.brokenPartRecorded) this.otherFailure(Reason.OutOfResources, err.message);
    } else if (err instanceof AtCapacity) {
      this.outcome.requestError = { status: 503, message: err.message };
    } else if (err instanceof MultipartError && err.kind === "parts") {
      this.outcome.requestError = { status: 413, message: err.message };
      this.otherFailure(Reason.OutOfResources, err.message);
    } else if (err instanceof MultipartError) {
      this.outcome.requestError = { status: 400, message: err.message };
      if (!this.brokenPartRecorded) this.otherFailure(Reason.CannotUnderstand, err.message);
    } else {
      this.fault(err);
      this.outcome.faulted = true;
      if (!this.brokenPartRecorded) this.otherFailure(Reason.ProcessingFailure, FAULT);
    }
  }

  /** A fault of the service (a bug, or an error no layer below turned into a cause): logged with its stack, never shown to the client. */
  private fault(err: unknown): void {
    const e = err instanceof Error ? err : new Error(String(err));
    this.req.log.error({ err: { name: e.name, message: e.message, stack: e.stack } }, "store request: fault of the service");
  }

  /** Waits for every upload to finish. */
  async settled(): Promise<void> {
    await Promise.all(this.uploads);
  }

  result(): StoreResult {
    this.outcome.instances.sort((a, b) => this.order.get(a)! - this.order.get(b)!);
    if (this.s3Unavailable) this.outcome.s3Unavailable = true;
    return this.outcome;
  }

  private record(outcome: InstanceOutcome, partIndex: number): void {
    this.order.set(outcome, partIndex);
    this.outcome.instances.push(outcome);
    this.deps.metrics.instances.inc({ outcome: outcome.stored ? "stored" : "failed", reason: outcome.stored ? "" : String(outcome.reason) });
  }

  private otherFailure(reason: ReasonCode, message: string): void {
    this.outcome.otherFailures.push({ reason, message });
    this.deps.metrics.instances.inc({ outcome: "failed", reason: String(reason) });
  }

  /** An instance that is not stored: listed by its SOP Instance UID if known, else among the other failures. */
  private failInstance(partIndex: number, named: Partial<DicomHeader>, failure: Failure): void {
    if (!named.sopInstanceUid) return this.otherFailure(failure.reason, failure.message);
    const { sopClassUid, sopInstanceUid, studyUid, seriesUid } = named;
    this.record({ sopClassUid, sopInstanceUid, studyUid, seriesUid, stored: false, reason: failure.reason, message: failure.message }, partIndex);
  }
}

function partMediaType(head: PartHead, rootType: string): string {
  const header = head.headers.get("content-type");
  if (header === undefined || header.trim() === "") return rootType;
  return parseMediaType(header)?.essence ?? header.trim().toLowerCase();
}
