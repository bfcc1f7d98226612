// What the S3 test server holds, read back with a plain S3 client.
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3";

/** The object's bytes and Content-Type; undefined when nothing is at the key. */
export async function readObject(client: S3Client, bucket: string, key: string): Promise<{ bytes: Buffer; contentType?: string } | undefined> {
  try {
    const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return { bytes: Buffer.from(await out.Body!.transformToByteArray()), contentType: out.ContentType };
  } catch (err: any) {
    if (err?.$metadata?.httpStatusCode === 404 || err?.name === "NoSuchKey") return undefined;
    throw err;
  }
}

/** The object's bytes; undefined when nothing is at the key. */
export async function getObject(client: S3Client, bucket: string, key: string): Promise<Buffer | undefined> {
  return (await readObject(client, bucket, key))?.bytes;
}

export async function listKeys(client: S3Client, bucket: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
    for (const o of page.Contents ?? []) keys.push(o.Key!);
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return keys;
}

/**
 * Multipart uploads an embedded store (s3rver) still holds for a key: neither completed nor
 * aborted. s3rver keeps each in a directory of its bucket's uploads folder, beside a file naming its key.
 */
export async function openUploads(storeDir: string, bucket: string, key: string): Promise<string[]> {
  const uploads = join(storeDir, bucket, "._S3rver_uploads");
  let ids: string[];
  try {
    ids = await readdir(uploads);
  } catch (err: any) {
    if (err?.code === "ENOENT") return [];
    throw err;
  }
  const held = await Promise.all(ids.map(async (id) => ((await readFile(join(uploads, id, "key"), "utf8").catch(() => "")) === key ? id : undefined)));
  return held.filter((id): id is string => id !== undefined);
}
