// Amazon S3 honours `If-None-Match: *` on PutObject (conditional writes, since August 2024) and
// on CompleteMultipartUpload (since November 2024): the write happens only if no object exists at
// the key (412 PreconditionFailed otherwise, 409 ConditionalRequestConflict while another
// conditional write to the key is under way). S3's documentation says that after a 409 the parts
// must be uploaded again: this layer drops the upload then; after a 412 it keeps it (to be
// completed without the condition, or aborted). s3rver ignores the header, answers
// AbortMultipartUpload with 405, and a completion of an upload that is gone with 500 (S3: 404
// NoSuchUpload). This Koa middleware gives the embedded store S3's behaviour in all of this, so
// that local runs, tests and benchmarks exercise the paths the service takes on S3.
//
// It runs before s3rver's router (and so before its signature check): the embedded store
// listens on loopback only and holds no one else's data.
import { stat, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { join } from "node:path";

interface Ctx {
  method: string;
  path: string;
  query: Record<string, unknown>;
  get(name: string): string;
  status: number;
}
type Next = () => Promise<unknown>;
export interface Store {
  existsObject(bucket: string, key: string): Promise<boolean>;
  getResourcePath(bucket: string, key: string | undefined, resource: string): string;
}

const require = createRequire(import.meta.url);
const S3Error = require("s3rver/lib/models/error") as new (code: string, message: string) => Error & { status: number; expose: boolean };

function s3Error(code: string, status: number, message: string): Error {
  const err = new S3Error(code, message);
  err.status = status;
  err.expose = true;
  return err;
}

export function conditionalPut(store: Store) {
  // Keys with a conditional write in progress. Taken before the existence check, so two
  // concurrent conditional writes can never both pass it.
  const writing = new Set<string>();
  const uploadDir = (bucket: string, uploadId: string) => join(store.getResourcePath(bucket, undefined, "uploads"), uploadId);
  return async (ctx: Ctx, next: Next): Promise<unknown> => {
    const target = bucketAndKey(ctx.path);
    const uploadId = typeof ctx.query.uploadId === "string" ? ctx.query.uploadId : undefined;
    // s3rver fails with 500 on an upload that is gone (completed, aborted, dropped after a 409); S3 answers 404.
    if (target && uploadId && (ctx.method === "DELETE" || ctx.method === "POST")) {
      const dir = uploadDir(target.bucket, uploadId);
      if (!(await stat(dir).catch(() => undefined))) throw noSuchUpload();
      if (ctx.method === "DELETE") {
        await rm(dir, { recursive: true, force: true });
        ctx.status = 204;
        return;
      }
    }
    const isPlainPut =
      ctx.method === "PUT" && !("uploadId" in ctx.query) && !("partNumber" in ctx.query) && !("tagging" in ctx.query) && !ctx.get("x-amz-copy-source");
    const isCompletion = ctx.method === "POST" && uploadId !== undefined;
    if (!target || !(isPlainPut || isCompletion) || ctx.get("if-none-match").trim() !== "*") return next();
    const { bucket, key } = target;
    const id = `${bucket}/${key}`;
    if (writing.has(id)) {
      if (isCompletion) await rm(uploadDir(bucket, uploadId!), { recursive: true, force: true });
      throw s3Error("ConditionalRequestConflict", 409, "A conflicting conditional operation is currently in progress against this resource.");
    }
    writing.add(id);
    try {
      if (await store.existsObject(bucket, key)) {
        throw s3Error("PreconditionFailed", 412, "At least one of the pre-conditions you specified did not hold");
      }
      return await next();
    } finally {
      writing.delete(id);
    }
  };
}

function bucketAndKey(path: string): { bucket: string; key: string } | undefined {
  const [bucket, ...rest] = path.replace(/^\/+/, "").split("/");
  if (!bucket || rest.length === 0) return undefined;
  return { bucket, key: rest.map(decodeURIComponent).join("/") };
}

function noSuchUpload(): Error {
  return s3Error("NoSuchUpload", 404, "The specified multipart upload does not exist.");
}
