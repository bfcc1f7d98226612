// Readiness: whether the service can reach its bucket now (HeadBucket).
import { HeadBucketCommand } from "@aws-sdk/client-s3";
import { describeS3Error } from "./s3-errors.js";
import type { S3Target } from "./s3-target.js";

/** A readiness probe must answer even when S3 does not. */
const HEAD_BUCKET_TIMEOUT_MS = 2_000;

export async function bucketReachable(target: Pick<S3Target, "client" | "bucket">): Promise<{ ok: true } | { ok: false; error: string }> {
  try {
    await target.client.send(new HeadBucketCommand({ Bucket: target.bucket }), { abortSignal: AbortSignal.timeout(HEAD_BUCKET_TIMEOUT_MS) });
    return { ok: true };
  } catch (err) {
    return { ok: false, error: describeS3Error(err) };
  }
}
