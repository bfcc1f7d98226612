// s3rver's filesystem store writes an object in place: the key exists, with the bytes written so
// far, while a PUT is still under way, and the PUT is acknowledged once the bytes have been handed
// to the file stream rather than once they are in the file (33 of 50 PUTs of 4 MiB, measured on
// its store alone). A HEAD or GET racing a write, or right after it, can then find a truncated or
// the previous object. S3 shows an object only once it is complete, and acknowledges it then.
// This gives the embedded store a putObject that writes the bytes to a file of its own, waits
// until that file holds all of them, and only then moves it to the key (a rename: atomic), so the
// service's duplicate checks and the tests' read-backs see what S3 would show.
import { createHash, randomUUID } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdir, rename, rm } from "node:fs/promises";
import { dirname } from "node:path";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";

export interface StoreObject {
  bucket: string;
  key: string;
  content: Buffer | Readable;
  metadata: Record<string, string>;
}

/** The part of s3rver's FilesystemStore this touches. */
export interface FilesystemStore {
  getResourcePath(bucket: string, key: string, kind: "object"): string;
  putMetadata(bucket: string, key: string, metadata: Record<string, string>, md5: string): Promise<unknown>;
  putObject(object: StoreObject): Promise<{ size: number; md5: string }>;
}

export function putObjectsAtomically(store: FilesystemStore): void {
  // An own property, so that the store's multipart completion (this.putObject) takes it too.
  store.putObject = async (object) => {
    const path = store.getResourcePath(object.bucket, object.key, "object");
    await mkdir(dirname(path), { recursive: true });
    // Not ending in the object suffix: listings skip it.
    const partial = `${path}.${randomUUID()}.partial`;
    const md5 = createHash("md5");
    let size = 0;
    const measure = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        md5.update(chunk);
        size += chunk.length;
        done(null, chunk);
      },
    });
    const source = Buffer.isBuffer(object.content) ? Readable.from([object.content]) : object.content;
    try {
      // Resolves once the file stream has written every byte and closed.
      await pipeline(source, measure, createWriteStream(partial));
      const digest = md5.digest("hex");
      // Metadata first: until the rename, a new key has metadata but no object, which reads as absent.
      await store.putMetadata(object.bucket, object.key, object.metadata, digest);
      await rename(partial, path);
      return { size, md5: digest };
    } catch (err) {
      await rm(partial, { force: true });
      throw err;
    }
  };
}
