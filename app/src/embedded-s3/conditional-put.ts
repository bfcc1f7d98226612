// Amazon S3 honours `If-None-Match: *` on PutObject (conditional writes, since August 2024):
// the write happens only if no object exists at the key (412 PreconditionFailed otherwise, 409
// ConditionalRequestConflict while another conditional write to the key is under way). s3rver
// ignores the header. This Koa middleware gives the embedded store the same behaviour, so that
// local runs, tests and benchmarks exercise the path the service takes on S3.
//
// It runs before s3rver's router (and so before its signature check): the embedded store
// listens on loopback only and holds no one else's data.
import { createRequire } from "node:module";

interface Ctx {
  method: string;
  path: string;
  query: Record<string, unknown>;
  get(name: string): string;
}
type Next = () => Promise<unknown>;
interface Store {
  existsObject(bucket: string, key: string): Promise<boolean>;
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
  return async (ctx: Ctx, next: Next): Promise<unknown> => {
    const isPlainPut =
      ctx.method === "PUT" && !("uploadId" in ctx.query) && !("partNumber" in ctx.query) && !("tagging" in ctx.query) && !ctx.get("x-amz-copy-source");
    if (!isPlainPut || ctx.get("if-none-match").trim() !== "*") return next();
    const [bucket, ...rest] = ctx.path.replace(/^\/+/, "").split("/");
    if (!bucket || rest.length === 0) return next();
    const key = rest.map(decodeURIComponent).join("/");
    const id = `${bucket}/${key}`;
    if (writing.has(id)) {
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
