// Readiness: whether the service can reach its bucket now. It asks what the service may ask
// in a deployment whose task role lists the bucket only under PREFIX (an s3:prefix condition,
// stacks/task-roles.ts): a listing of one key under the prefix. A HeadBucket carries no
// prefix, so such a role is refused it, and readiness would say "not ready" for ever.
import { ListObjectsV2Command } from "@aws-sdk/client-s3";
import { describeS3Error } from "./s3-errors.js";
import type { S3Target } from "./s3-target.js";

/** A readiness probe must answer even when S3 does not. */
const PROBE_TIMEOUT_MS = 2_000;

export async function bucketReachable(target: Pick<S3Target, "client" | "bucket">, prefix = ""): Promise<{ ok: true } | { ok: false; error: string }> {
  try {
    await target.client.send(new ListObjectsV2Command({ Bucket: target.bucket, Prefix: prefix === "" ? undefined : `${prefix}/`, MaxKeys: 1 }), {
      abortSignal: AbortSignal.timeout(PROBE_TIMEOUT_MS),
    });
    return { ok: true };
  } catch (err) {
    return { ok: false, error: describeS3Error(err) };
  }
}
