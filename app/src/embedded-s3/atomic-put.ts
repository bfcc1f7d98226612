// Amazon S3 shows an object only once it is complete: a HEAD or GET during a PutObject finds the
// old object (or none), never part of the new one. s3rver writes the object file in place (and
// answers once its bytes have passed its MD5 transform, before its file stream has finished),
// then the metadata beside it, so a reader in between sees a short object without its metadata.
// This replaces its filesystem store's putObject with one that writes every file under a
// temporary name and renames the object file into place last.
import { randomUUID } from "node:crypto";
import { createHash } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdir, rename, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname } from "node:path";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";

const require = createRequire(import.meta.url);
const S3Object = require("s3rver/lib/models/object") as { ALLOWED_METADATA: string[] };

interface StoredObject {
  bucket: string;
  key: string;
  content: Readable | Buffer;
  metadata: Record<string, string>;
}

export interface FilesystemStore {
  getResourcePath(bucket: string, key: string, resource: string): string;
  putObject(object: StoredObject): Promise<{ size: number; md5: string }>;
}

/** Makes `store.putObject` all-or-nothing for readers (the multipart completion uses it too). */
export function makePutsAtomic(store: FilesystemStore): void {
  store.putObject = async (object) => {
    // A body that fails while the directory is made must not go unhandled: the pipeline below reports it.
    if (!Buffer.isBuffer(object.content)) object.content.on("error", () => undefined);
    const objectPath = store.getResourcePath(object.bucket, object.key, "object");
    const md5Path = store.getResourcePath(object.bucket, object.key, "object.md5");
    const metadataPath = store.getResourcePath(object.bucket, object.key, "metadata.json");
    const partial = (path: string) => `${path}.${randomUUID()}.partial`;
    const [objectTmp, md5Tmp, metadataTmp] = [objectPath, md5Path, metadataPath].map(partial) as [string, string, string];
    await mkdir(dirname(objectPath), { recursive: true });
    const md5 = createHash("md5");
    let size = 0;
    try {
      const source = Buffer.isBuffer(object.content) ? Readable.from([object.content]) : object.content;
      const counting = new Transform({
        transform(chunk: Buffer, _encoding, done) {
          md5.update(chunk);
          size += chunk.length;
          done(null, chunk);
        },
      });
      // Resolves once the file stream has finished and closed: every byte is in the file.
      await pipeline(source, counting, createWriteStream(objectTmp));
      const digest = md5.digest("hex");
      const metadata: Record<string, string> = {};
      for (const [name, value] of Object.entries(object.metadata)) {
        if (S3Object.ALLOWED_METADATA.includes(name) || name.startsWith("x-amz-meta-")) metadata[name] = value;
      }
      await Promise.all([writeFile(md5Tmp, digest), writeFile(metadataTmp, JSON.stringify(metadata, null, 2))]);
      // The object file last: a reader that finds it finds its metadata too.
      await rename(md5Tmp, md5Path);
      await rename(metadataTmp, metadataPath);
      await rename(objectTmp, objectPath);
      return { size, md5: digest };
    } finally {
      await Promise.all([objectTmp, md5Tmp, metadataTmp].map((path) => rm(path, { force: true })));
    }
  };
}
