// Reading back what the store holds and comparing it with what was sent.
import { createHash } from "node:crypto";
import { GetObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import type { Readable } from "node:stream";

export interface StoredObject {
  size: number;
  sha256: string;
}

/** Streams the object and hashes it; null when there is no object at the key. */
export async function readStoredObject(s3: S3Client, bucket: string, key: string): Promise<StoredObject | null> {
  let body: Readable;
  try {
    const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    body = out.Body as Readable;
  } catch (err) {
    if ((err as Error).name === "NoSuchKey" || (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) return null;
    throw err;
  }
  const hash = createHash("sha256");
  let size = 0;
  for await (const chunk of body) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { size, sha256: hash.digest("hex") };
}

export interface Expected {
  key: string;
  size: number;
  sha256: string;
}

export interface VerifyResult {
  checked: number;
  missing: string[];
  wrong: string[];
}

/** Reads every expected object back (a few at a time) and lists the missing and the differing ones. */
export async function verifyStored(s3: S3Client, bucket: string, expected: Expected[], concurrency = 8): Promise<VerifyResult> {
  const result: VerifyResult = { checked: 0, missing: [], wrong: [] };
  let next = 0;
  const worker = async () => {
    while (next < expected.length) {
      const e = expected[next++]!;
      const got = await readStoredObject(s3, bucket, e.key);
      result.checked += 1;
      if (!got) result.missing.push(e.key);
      else if (got.size !== e.size || got.sha256 !== e.sha256) result.wrong.push(e.key);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return result;
}
