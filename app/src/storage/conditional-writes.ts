// Whether the store honours `If-None-Match: *` on PutObject. Where it does, a new instance is
// written with that condition and no HEAD is needed before it: the store itself refuses to
// replace an existing object (412), and only then does the service look at what is there.
// Where it does not, a conditional PUT would silently overwrite, so the service must HEAD first.
//
// S3_CONDITIONAL_WRITES=auto (the default) trusts Amazon S3, which supports the condition
// everywhere since August 2024, and probes any other endpoint: two conditional PUTs to one
// fixed key, of which the second must be refused (and a refusal counts only if the object is
// there), then the probe object is deleted again (best effort). Until a probe has answered, uploads take the HEAD path, which is correct on every store.
//
// Honouring the condition on PutObject does not mean honouring it on CompleteMultipartUpload
// (Amazon S3 does both, since November 2024). So a store that passed the PUT test is asked once
// more: a one-part multipart upload to the probe key (which now exists), completed with the
// condition, must be refused too. Until then, or if it is not, instances larger than one part are
// completed without the condition, after a HEAD (the race that leaves open is in the README).
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  UploadPartCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import type { Logger } from "pino";
import type { ConditionalWritesSetting } from "../config.js";
import { describeS3Error, isNotFound } from "./s3-errors.js";

/** Under PREFIX; the DICOM layout's keys all start with a UID, never with a dot. */
export const PROBE_KEY_NAME = ".stowrs/conditional-writes-probe";
/** After a probe that got no clear answer (store down, no permission), ask again this much later. */
export const PROBE_RETRY_MS = 30_000;

const PROBE_BODY = "Written by stowrs-to-s3 to learn whether this store honours If-None-Match on PutObject. Safe to delete.\n";

type Verdict = "supported" | "unsupported" | "unknown";

export interface ConditionalWritesOptions {
  setting: ConditionalWritesSetting;
  /** No S3_ENDPOINT: Amazon S3 itself. */
  onAws: boolean;
  client: S3Client;
  bucket: string;
  prefix: string;
  log: Logger;
}

export class ConditionalWrites {
  private verdict: Verdict;
  /** Whether the store also honours the condition on CompleteMultipartUpload (meaningful once the verdict is "supported"). */
  private completions: boolean;
  private probing?: Promise<Verdict>;
  private lastProbe = -Infinity;

  constructor(private readonly opts: ConditionalWritesOptions) {
    if (opts.setting === "on" || (opts.setting === "auto" && opts.onAws)) this.verdict = "supported";
    else if (opts.setting === "off") this.verdict = "unsupported";
    else this.verdict = "unknown";
    this.completions = this.verdict === "supported";
  }

  /** Whether an upload may rely on the condition now. While unknown, starts a probe (at most every PROBE_RETRY_MS). */
  usable(): boolean {
    if (this.verdict === "unknown") void this.probe();
    return this.verdict === "supported";
  }

  /** Whether a multipart upload may be completed with the condition now. */
  completionsUsable(): boolean {
    return this.usable() && this.completions;
  }

  get state(): Verdict {
    return this.verdict;
  }

  /** Asks the store (unless it is known already); resolves with what is known afterwards. */
  probe(): Promise<Verdict> {
    if (this.verdict !== "unknown") return Promise.resolve(this.verdict);
    if (this.probing) return this.probing;
    if (Date.now() - this.lastProbe < PROBE_RETRY_MS) return Promise.resolve(this.verdict);
    this.lastProbe = Date.now();
    this.probing = this.ask().then((verdict) => {
      this.verdict = verdict;
      this.probing = undefined;
      return verdict;
    });
    return this.probing;
  }

  private async ask(): Promise<Verdict> {
    const { client, bucket, prefix, log } = this.opts;
    const key = prefix === "" ? PROBE_KEY_NAME : `${prefix}/${PROBE_KEY_NAME}`;
    const verdict = await this.twoWrites(key);
    if (verdict === "supported") this.completions = await this.conditionalCompletionRefused(key);
    // Whoever lists the bucket expects DICOM instances only. Without s3:DeleteObject the probe stays (one small object).
    await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key })).catch((err) => {
      // After a failed probe the failure is logged already, and the store is likely down.
      if (verdict !== "unknown") log.warn({ key, err: describeS3Error(err) }, "S3 conditional writes: could not delete the probe object");
    });
    return verdict;
  }

  private async twoWrites(key: string): Promise<Verdict> {
    // The first write may create the key, or find it (left by an earlier start, or another
    // replica's probe); the second finds it in any case, so a store that lets it through ignores
    // the condition. A refusal counts only if the probe object is really there.
    for (let round = 0; round < 2; round++) {
      const first = await this.conditionalPut(key);
      if (first === "conflict") return this.supported(key);
      if (first === "exists") {
        const there = await this.probeObjectExists(key);
        if (there === true) return this.supported(key);
        // Refused with nothing there: deleted meanwhile by another replica's probe, or a store that refuses blindly.
        if (there === false) continue;
        return this.failedProbe(key, there.failed);
      }
      if (first !== "written") return this.failedProbe(key, first.failed);
      const second = await this.conditionalPut(key);
      if (second === "exists" || second === "conflict") return this.supported(key);
      if (second !== "written") return this.failedProbe(key, second.failed);
      this.opts.log.info({ key }, "S3 conditional writes: ignored by this store; every instance is checked with a HEAD first");
      return "unsupported";
    }
    this.opts.log.warn({ key }, "S3 conditional writes: the store refuses them with no object at the key; every instance is checked with a HEAD first");
    return "unsupported";
  }

  private async conditionalPut(key: string): Promise<"written" | "exists" | "conflict" | { failed: unknown }> {
    const { client, bucket } = this.opts;
    try {
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: PROBE_BODY, ContentType: "text/plain", IfNoneMatch: "*" }));
      return "written";
    } catch (err) {
      return conditionRefusal(err) ?? { failed: err };
    }
  }

  /** Run while the probe object exists: a conditional completion of an upload to its key must be refused. */
  private async conditionalCompletionRefused(key: string): Promise<boolean> {
    const { client, bucket, log } = this.opts;
    let uploadId: string | undefined;
    let refused: boolean;
    try {
      uploadId = (await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key, ContentType: "text/plain" }))).UploadId;
      const part = await client.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId: uploadId, PartNumber: 1, Body: PROBE_BODY }));
      await client.send(
        new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] }, IfNoneMatch: "*" }),
      );
      uploadId = undefined;
      log.info({ key }, "S3 conditional writes: ignored by this store on CompleteMultipartUpload; instances larger than one part are checked with a HEAD first");
      refused = false;
    } catch (err) {
      refused = conditionRefusal(err) !== undefined;
      if (refused) log.info({ key }, "S3 conditional writes: honoured on CompleteMultipartUpload too");
      else log.warn({ key, err: describeS3Error(err) }, "S3 conditional writes: CompleteMultipartUpload probe failed; instances larger than one part are checked with a HEAD first");
    }
    // After a refusal the upload may still be there (412): drop it (best effort; a lifecycle rule would too).
    if (uploadId) await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId })).catch(() => undefined);
    return refused;
  }

  private async probeObjectExists(key: string): Promise<boolean | { failed: unknown }> {
    const { client, bucket } = this.opts;
    try {
      await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      return true;
    } catch (err) {
      return isNotFound(err) ? false : { failed: err };
    }
  }

  private supported(key: string): Verdict {
    this.opts.log.info({ key }, "S3 conditional writes: supported; new instances are written with If-None-Match instead of a HEAD first");
    return "supported";
  }

  private failedProbe(key: string, err: unknown): Verdict {
    const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    if (status === 501 || status === 400) {
      this.opts.log.info({ key, err: describeS3Error(err) }, "S3 conditional writes: not supported by this store; every instance is checked with a HEAD first");
      return "unsupported";
    }
    this.opts.log.warn({ key, err: describeS3Error(err) }, "S3 conditional writes: probe failed; checking every instance with a HEAD first until a later probe answers");
    return "unknown";
  }
}

/** Why a conditional write was refused: 412, an object exists at the key; 409, another conditional write to it is under way. */
export function conditionRefusal(err: unknown): "exists" | "conflict" | undefined {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } } | undefined;
  const status = e?.$metadata?.httpStatusCode;
  if (status === 409 || e?.name === "ConditionalRequestConflict") return "conflict";
  if (status === 412 || e?.name === "PreconditionFailed") return "exists";
  return undefined;
}
