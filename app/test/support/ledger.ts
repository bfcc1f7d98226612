// Test harness: did the service keep its word? Compares what a client sent, what the Store
// Instances Response said about it, and what the S3 server holds.
import type { S3Client } from "@aws-sdk/client-s3";
import { expect } from "vitest";
import { buildInstance, newInstanceUids } from "./dicom.js";
import { expectedKey } from "./key-layout.js";
import { getObject } from "./s3-objects.js";
import { failedItems, referencedUids } from "./store-response.js";

export interface SentInstance {
  studyUid: string;
  seriesUid: string;
  sopInstanceUid: string;
  bytes: Buffer;
}

/** A new instance (fresh UIDs) with `pixels` bytes of pixel data, as a client of these tests sends it. */
export function sentInstance(pixels = 2048): SentInstance {
  const ids = newInstanceUids();
  return { ...ids, bytes: buildInstance({ ...ids, pixels }) };
}

/**
 * The service's promise: every instance the response lists as stored is in S3 byte for byte;
 * every other instance sent is listed as failed with one of the allowed reasons and has no object
 * at its key (after S3 crashed: at most its bytes, or their start). Returns the UIDs stored and failed.
 */
export async function expectWordKept(
  s3: { client: S3Client; bucket: string },
  sent: SentInstance[],
  answer: { json: any; status: number },
  allowedReasons: number[],
  opts: { afterS3Crash?: boolean } = {},
): Promise<{ stored: string[]; failed: string[] }> {
  const referenced = referencedUids(answer.json);
  const failed = failedItems(answer.json);
  const why = `status ${answer.status}: ${JSON.stringify(answer.json)?.slice(0, 1500)}`;
  for (const inst of sent) {
    const key = expectedKey(inst);
    const failure = failed.find((f) => f.uid === inst.sopInstanceUid);
    const acknowledged = referenced.includes(inst.sopInstanceUid);
    let object: Buffer | undefined;
    try {
      object = await getObject(s3.client, s3.bucket, key);
    } catch (err: any) {
      // s3rver killed while writing an object's metadata answers 500 for that key ever after.
      if (!(opts.afterS3Crash && !acknowledged && err?.$metadata?.httpStatusCode === 500)) throw err;
      object = undefined;
    }
    if (acknowledged) {
      expect(failure, `${inst.sopInstanceUid} both stored and failed; ${why}`).toBeUndefined();
      expect(object, `${key} acknowledged but absent; ${why}`).toBeDefined();
      expect(object!.equals(inst.bytes), `${key} acknowledged but not byte-exact`).toBe(true);
    } else {
      expect(failure, `${inst.sopInstanceUid} neither stored nor failed; ${why}`).toBeDefined();
      expect(allowedReasons, `${inst.sopInstanceUid} failed with ${failure!.reason}; ${why}`).toContain(failure!.reason);
      if (opts.afterS3Crash && object !== undefined) {
        // S3 stored it but died before it could say so: the whole instance. Or s3rver, killed while
        // writing, left the start of it (it writes an object's metadata before the file is flushed,
        // and answers 500 for half-written metadata; real S3 writes atomically). Either way the
        // service never acknowledged it.
        const prefix = object.length <= inst.bytes.length && inst.bytes.subarray(0, object.length).equals(object);
        expect(prefix, `${key} reported failed and a different object is at its key`).toBe(true);
      } else {
        expect(object?.length, `${key} reported failed but an object of this many bytes is at its key`).toBeUndefined();
      }
    }
  }
  return { stored: referenced, failed: failed.map((f) => f.uid) };
}
