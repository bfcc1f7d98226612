// What the corpus test (and the client tests) expect of one STOW-RS exchange:
// the parts sent, the Store Instances Response, and the objects in the bucket.
import type { S3Client } from "@aws-sdk/client-s3";
import { expect } from "vitest";
import { expectedKey } from "./key-layout.js";
import { multipartBody } from "./multipart.js";
import { readObject } from "./s3-objects.js";
import type { StowReply } from "./stow-client.js";

export interface StoredExpectation {
  kind: "stored";
  sopClassUid: string;
  sopInstanceUid: string;
  studyUid: string;
  seriesUid: string;
}

export interface FailedExpectation {
  kind: "failed";
  reason: number;
  /** Set when the part's SOP Class and Instance UIDs are valid: its failure item must name them. */
  names?: { sopClassUid: string; sopInstanceUid: string };
}

export interface SentPart {
  label: string;
  body: Buffer;
  /** Part Content-Type; application/dicom unless set. */
  contentType?: string;
  expect: StoredExpectation | FailedExpectation;
}

type DicomJson = Record<string, { vr: string; Value?: unknown[] }>;

export function expectedStatus(parts: SentPart[]): number {
  const stored = parts.filter((p) => p.expect.kind === "stored").length;
  if (stored === parts.length) return 200;
  return stored === 0 ? 409 : 202;
}

/** The multipart body that sends these parts, each with its own Content-Type. */
export function sentBody(parts: SentPart[], boundary: string): Buffer {
  return multipartBody(parts.map((p) => ({ body: p.body, contentType: p.contentType ?? "application/dicom" })), boundary);
}

const items = (body: DicomJson, tag: string): DicomJson[] => {
  const attr = body[tag];
  if (attr === undefined) return [];
  expect(attr.vr, `${tag} VR`).toBe("SQ");
  return (attr.Value ?? []) as DicomJson[];
};

const first = (item: DicomJson, tag: string): unknown => item[tag]?.Value?.[0];

function reasonOf(item: DicomJson): unknown {
  expect(item["00081197"]?.vr, "FailureReason VR").toBe("US");
  return first(item, "00081197");
}

/** Checks status, media type and every item of a Store Instances Response against the parts sent. */
export function checkStowReply(reply: Pick<StowReply, "status" | "contentType" | "text">, parts: SentPart[], context: string) {
  const why = `${context}: ${reply.status} ${reply.text.slice(0, 2000)}`;
  expect(reply.status, why).toBe(expectedStatus(parts));
  expect(reply.contentType, why).toMatch(/^application\/dicom\+json\b/);
  const body = JSON.parse(reply.text) as DicomJson;

  const stored = parts.flatMap((p) => (p.expect.kind === "stored" ? [p.expect] : []));
  const failed = parts.flatMap((p) => (p.expect.kind === "failed" ? [p.expect] : []));

  const referenced = items(body, "00081199");
  const describe = (cls: unknown, sop: unknown) => `${String(cls)} ${String(sop)}`;
  expect(referenced.map((i) => describe(first(i, "00081150"), first(i, "00081155"))).sort(), why).toEqual(
    stored.map((s) => describe(s.sopClassUid, s.sopInstanceUid)).sort(),
  );
  for (const item of referenced) {
    expect(item["00081196"], `${why}: no warning applies to an instance stored as received`).toBeUndefined();
  }
  if (stored.length === 0) expect(body["00081199"], `${why}: empty ReferencedSOPSequence must be omitted`).toBeUndefined();

  const failedItems = items(body, "00081198");
  const otherItems = items(body, "0008119A");
  const reasons = [...failedItems, ...otherItems].map(reasonOf);
  expect(reasons.every((r) => typeof r === "number"), `${why}: FailureReason is a JSON number`).toBe(true);
  expect([...reasons].sort(), why).toEqual(failed.map((f) => f.reason).sort());
  if (failed.length === 0) {
    expect(body["00081198"], `${why}: empty FailedSOPSequence must be omitted`).toBeUndefined();
    expect(body["0008119A"], `${why}: empty OtherFailuresSequence must be omitted`).toBeUndefined();
  }
  for (const f of failed) {
    if (!f.names) continue;
    const names = f.names;
    const match = failedItems.find(
      (i) => first(i, "00081155") === names.sopInstanceUid && first(i, "00081150") === names.sopClassUid && reasonOf(i) === f.reason,
    );
    expect(match, `${why}: FailedSOPSequence must name ${names.sopInstanceUid} with reason ${f.reason}`).toBeDefined();
  }
  // A failure must never be reported against an instance that was stored.
  const storedUids = new Set(stored.map((s) => s.sopInstanceUid));
  for (const item of failedItems) expect(storedUids.has(String(first(item, "00081155"))), why).toBe(false);
}

/** Every stored part is in the bucket at its key, byte for byte, as application/dicom. */
export async function checkStoredObjects(client: S3Client, bucket: string, parts: SentPart[], prefix = "") {
  for (const part of parts) {
    if (part.expect.kind !== "stored") continue;
    const key = expectedKey(part.expect, prefix);
    const object = await readObject(client, bucket, key);
    expect(object?.bytes.equals(part.body), `${part.label} at ${key} must equal the bytes sent`).toBe(true);
    expect(object?.contentType, `${part.label} at ${key}`).toBe("application/dicom");
  }
}
