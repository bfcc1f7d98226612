// The embedded store shows an object only once it is complete, and acknowledges the PUT then
// (s3rver alone does neither).
import { existsSync, readdirSync, readFileSync, mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { Readable } from "node:stream";
import { afterAll, describe, expect, it } from "vitest";
import { putObjectsAtomically, type FilesystemStore } from "./atomic-put.js";

const require = createRequire(import.meta.url);
const S3rverFilesystemStore = require("s3rver/lib/stores/filesystem") as new (dir: string) => FilesystemStore & { putBucket(name: string): Promise<unknown> };
const S3Object = require("s3rver/lib/models/object") as new (bucket: string, key: string, content: Buffer | Readable, metadata: Record<string, string>) => never;

const dir = mkdtempSync(join(tmpdir(), "atomic-put-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("putObjectsAtomically", () => {
  it("resolves a PUT only when the file holds exactly the bytes put, for buffers and streams, overwrite after overwrite", async () => {
    const store = new S3rverFilesystemStore(dir);
    await store.putBucket("b");
    putObjectsAtomically(store);
    const file = store.getResourcePath("b", "1.2/3.4/5.6.dcm", "object");
    for (let i = 0; i < 20; i++) {
      // Alternate sizes and contents, so that a short or stale file cannot pass for the new one.
      const bytes = Buffer.alloc(4 * 1024 * 1024 - (i % 2) * 1000, i);
      const content = i % 4 < 2 ? bytes : Readable.from([bytes.subarray(0, 1 << 20), bytes.subarray(1 << 20)]);
      const { size } = await store.putObject(new S3Object("b", "1.2/3.4/5.6.dcm", content, { "content-type": "application/dicom" }));
      expect(size).toBe(bytes.length);
      expect(readFileSync(file).equals(bytes), `PUT ${i + 1}`).toBe(true);
    }
  });

  it("fails the PUT when the content stream fails", async () => {
    const store = new S3rverFilesystemStore(dir);
    await store.putBucket("b");
    putObjectsAtomically(store);
    const broken = new Readable({
      read() {
        this.destroy(new Error("client went away"));
      },
    });
    await expect(store.putObject(new S3Object("b", "broken.dcm", broken, {}))).rejects.toThrow("client went away");
    expect(existsSync(store.getResourcePath("b", "broken.dcm", "object"))).toBe(false);
    expect(readdirSync(dirname(store.getResourcePath("b", "broken.dcm", "object"))).filter((f) => f.endsWith(".partial"))).toEqual([]);
  });

  it("keeps a new key absent while its bytes are still arriving", async () => {
    const store = new S3rverFilesystemStore(dir);
    await store.putBucket("b");
    putObjectsAtomically(store);
    const key = "1.2/3.4/arriving.dcm";
    const content = new Readable({ read() {} });
    const writing = store.putObject(new S3Object("b", key, content, {}));
    content.push(Buffer.alloc(100_000, 7));
    await new Promise((r) => setTimeout(r, 50));
    expect(existsSync(store.getResourcePath("b", key, "object"))).toBe(false);
    content.push(null);
    await writing;
    expect(readFileSync(store.getResourcePath("b", key, "object")).length).toBe(100_000);
  });
});
