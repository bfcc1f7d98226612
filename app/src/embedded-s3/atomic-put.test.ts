// While an object is being written, readers of the embedded store see the old object or none,
// never part of the new one (as on S3); once written, the object and its metadata are all there,
// and the PUT is acknowledged only then (s3rver alone answers before its file holds every byte).
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough, Readable } from "node:stream";
import { afterAll, describe, expect, it } from "vitest";
import { makePutsAtomic, type FilesystemStore } from "./atomic-put.js";

const require = createRequire(import.meta.url);
const Store = require("s3rver/lib/stores/filesystem") as new (dir: string) => FilesystemStore & {
  putBucket(name: string): Promise<void>;
  existsObject(bucket: string, key: string): Promise<boolean>;
  getObject(bucket: string, key: string): Promise<{ metadata: Record<string, string>; content: NodeJS.ReadableStream } | null>;
  listObjects(bucket: string, opts: { prefix?: string }): Promise<{ objects: Array<{ key: string }> }>;
};
const S3Object = require("s3rver/lib/models/object") as new (bucket: string, key: string, content: unknown, metadata: Record<string, string>) => unknown;

const dir = mkdtempSync(join(tmpdir(), "atomic-put-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function text(object: { content: NodeJS.ReadableStream } | null): Promise<string | null> {
  if (!object) return null;
  const parts: Buffer[] = [];
  for await (const chunk of object.content) parts.push(chunk as Buffer);
  return Buffer.concat(parts).toString();
}

describe("embedded store puts", () => {
  it("show nothing of an object until it is complete, then all of it with its metadata", async () => {
    const store = new Store(dir);
    makePutsAtomic(store);
    await store.putBucket("b");
    const write = async (key: string, body: string, sha256: string) => {
      const content = new PassThrough();
      const put = store.putObject(new S3Object("b", key, content, { "content-type": "application/dicom", "x-amz-meta-sha256": sha256 }) as never);
      content.write(body.slice(0, 3));
      await new Promise((r) => setTimeout(r, 50));
      return { put, finish: () => content.end(body.slice(3)) };
    };

    const first = await write("1.2/3.dcm", "first bytes", "aaa");
    expect(await store.existsObject("b", "1.2/3.dcm")).toBe(false);
    expect(await store.getObject("b", "1.2/3.dcm")).toBeNull();
    expect((await store.listObjects("b", { prefix: "1.2/" })).objects).toEqual([]);
    first.finish();
    expect(await first.put).toMatchObject({ size: 11 });
    const stored = await store.getObject("b", "1.2/3.dcm");
    expect(stored!.metadata).toMatchObject({ "x-amz-meta-sha256": "aaa", "content-length": 11 });
    expect(await text(stored)).toBe("first bytes");

    // Replaced: the old object stays whole until the new one is.
    const second = await write("1.2/3.dcm", "second, longer bytes", "bbb");
    const during = await store.getObject("b", "1.2/3.dcm");
    expect(during!.metadata).toMatchObject({ "x-amz-meta-sha256": "aaa", "content-length": 11 });
    expect(await text(during)).toBe("first bytes");
    second.finish();
    await second.put;
    const replaced = await store.getObject("b", "1.2/3.dcm");
    expect(replaced!.metadata).toMatchObject({ "x-amz-meta-sha256": "bbb", "content-length": 20 });
    expect(await text(replaced)).toBe("second, longer bytes");
    // No temporary file is left beside the object.
    expect(readdirSync(join(dir, "b", "1.2")).filter((f) => f.endsWith(".partial"))).toEqual([]);
  });

  it("resolves a PUT only when the file holds exactly the bytes put, for buffers and streams, overwrite after overwrite", async () => {
    const store = new Store(dir);
    makePutsAtomic(store);
    await store.putBucket("d");
    const file = store.getResourcePath("d", "1.2/3.4/5.6.dcm", "object");
    for (let i = 0; i < 20; i++) {
      // Alternate sizes and contents, so that a short or stale file cannot pass for the new one.
      const bytes = Buffer.alloc(4 * 1024 * 1024 - (i % 2) * 1000, i);
      const content = i % 4 < 2 ? bytes : Readable.from([bytes.subarray(0, 1 << 20), bytes.subarray(1 << 20)]);
      const { size } = await store.putObject(new S3Object("d", "1.2/3.4/5.6.dcm", content, { "content-type": "application/dicom" }) as never);
      expect(size).toBe(bytes.length);
      expect(readFileSync(file).equals(bytes), `PUT ${i + 1}`).toBe(true);
    }
  });

  it("leaves nothing behind when the body breaks off", async () => {
    const store = new Store(dir);
    makePutsAtomic(store);
    await store.putBucket("c");
    const content = new PassThrough();
    const put = store.putObject(new S3Object("c", "4.5/6.dcm", content, {}) as never);
    content.write("part");
    content.destroy(new Error("client went away"));
    await expect(put).rejects.toThrow(/went away/);
    expect(await store.existsObject("c", "4.5/6.dcm")).toBe(false);
    expect(readdirSync(join(dir, "c", "4.5"))).toEqual([]);
  });
});
