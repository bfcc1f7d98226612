// Test harness: did the service keep its word? Compares what a client sent, what the Store
// Instances Response said about it, and what the S3 server holds; plus small readers for
// /metrics and for a child process's memory and open files.
import { readdirSync, readFileSync } from "node:fs";
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3";
import { expect } from "vitest";
import { multipartContentType } from "./dicom.js";
import { expectedKey } from "./key-layout.js";

export interface SentInstance {
  studyUid: string;
  seriesUid: string;
  sopInstanceUid: string;
  bytes: Buffer;
}

export interface StowAnswer {
  status: number;
  headers: Headers;
  text: string;
  json: any;
  /** ms from sending to the end of the answer. */
  ms: number;
}

/** POST a multipart body; `headers` replace the defaults (Accept: DICOM JSON) and may override Content-Type. */
export async function postStow(
  url: string,
  body: Buffer | Uint8Array,
  boundary: string,
  path = "/studies",
  headers: Record<string, string> = { Accept: "application/dicom+json" },
): Promise<StowAnswer> {
  const started = Date.now();
  const res = await fetch(`${url}${path}`, {
    method: "POST",
    headers: { "Content-Type": multipartContentType(boundary), ...headers },
    // fetch types take a Uint8Array over a plain ArrayBuffer; copying is cheap at test sizes.
    body: new Uint8Array(body),
  });
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json, ms: Date.now() - started };
}

export const referencedUids = (json: any): string[] => (json?.["00081199"]?.Value ?? []).map((i: any) => i["00081155"].Value[0]);
export const failedItems = (json: any): Array<{ uid: string; reason: number }> =>
  (json?.["00081198"]?.Value ?? []).map((i: any) => ({ uid: i["00081155"]?.Value?.[0], reason: i["00081197"].Value[0] }));
export const otherReasons = (json: any): number[] => (json?.["0008119A"]?.Value ?? []).map((i: any) => i["00081197"].Value[0]);

export async function getObject(client: S3Client, bucket: string, key: string): Promise<Buffer | undefined> {
  try {
    const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return Buffer.from(await out.Body!.transformToByteArray());
  } catch (err: any) {
    if (err?.$metadata?.httpStatusCode === 404 || err?.name === "NoSuchKey") return undefined;
    throw err;
  }
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
 * The promise of issue 5: every instance the response lists as stored is in S3 byte for byte;
 * every other instance sent is listed as failed with one of the allowed reasons and has no object
 * at its key (after S3 crashed: at most its bytes, or their start). Returns the UIDs stored and failed.
 */
export async function expectWordKept(
  s3: { client: S3Client; bucket: string },
  sent: SentInstance[],
  answer: { json: any; status: number },
  allowedReasons: number[],
  opts: { afterS3Crash?: boolean } = {},
): Promise<{ stored: string[]; failed: string[] }> {
  const referenced = referencedUids(answer.json);
  const failed = failedItems(answer.json);
  const why = `status ${answer.status}: ${JSON.stringify(answer.json)?.slice(0, 1500)}`;
  for (const inst of sent) {
    const key = expectedKey(inst);
    const failure = failed.find((f) => f.uid === inst.sopInstanceUid);
    const acknowledged = referenced.includes(inst.sopInstanceUid);
    let object: Buffer | undefined;
    try {
      object = await getObject(s3.client, s3.bucket, key);
    } catch (err: any) {
      // s3rver killed while writing an object's metadata answers 500 for that key ever after.
      if (!(opts.afterS3Crash && !acknowledged && err?.$metadata?.httpStatusCode === 500)) throw err;
      object = undefined;
    }
    if (acknowledged) {
      expect(failure, `${inst.sopInstanceUid} both stored and failed; ${why}`).toBeUndefined();
      expect(object, `${key} acknowledged but absent; ${why}`).toBeDefined();
      expect(object!.equals(inst.bytes), `${key} acknowledged but not byte-exact`).toBe(true);
    } else {
      expect(failure, `${inst.sopInstanceUid} neither stored nor failed; ${why}`).toBeDefined();
      expect(allowedReasons, `${inst.sopInstanceUid} failed with ${failure!.reason}; ${why}`).toContain(failure!.reason);
      if (opts.afterS3Crash && object !== undefined) {
        // S3 stored it but died before it could say so: the whole instance. Or s3rver, killed while
        // writing, left the start of it (it writes an object's metadata before the file is flushed,
        // and answers 500 for half-written metadata; real S3 writes atomically). Either way the
        // service never acknowledged it.
        const prefix = object.length <= inst.bytes.length && inst.bytes.subarray(0, object.length).equals(object);
        expect(prefix, `${key} reported failed and a different object is at its key`).toBe(true);
      } else {
        expect(object?.length, `${key} reported failed but an object of this many bytes is at its key`).toBeUndefined();
      }
    }
  }
  return { stored: referenced, failed: failed.map((f) => f.uid) };
}

/** The value of one sample in Prometheus text format, e.g. metric(text, "stowrs_uploads_in_flight"). */
export function metric(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split("\n")) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})? (\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const got = Object.fromEntries([...(m[2] ?? "").matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) return Number(m[3]);
  }
  return undefined;
}

export async function fetchMetrics(url: string): Promise<string> {
  const res = await fetch(`${url}/metrics`);
  expect(res.status).toBe(200);
  return res.text();
}

/** Resident memory and open file descriptors of a process (Linux /proc). */
export function procStats(pid: number): { rssBytes: number; fds: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const rssKb = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? NaN);
  return { rssBytes: rssKb * 1024, fds: readdirSync(`/proc/${pid}/fd`).length };
}

export const MIB = 1024 * 1024;
