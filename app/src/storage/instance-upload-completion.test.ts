// The refusals of a conditional CompleteMultipartUpload (412: an object is there; 409: another
// conditional write is under way) and what follows them, against a minimal S3 stand-in that
// answers each completion and HEAD as a test scripts it. The race itself, against a real store,
// is in routes/studies-duplicates.test.ts.
import { createHash } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import pino from "pino";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { embeddedStoreClient } from "../../test/support/s3rver.js";
import type { DuplicatePolicy } from "../config.js";
import { createMetrics } from "../metrics.js";
import type { ConditionalWrites } from "./conditional-writes.js";
import { InstanceUpload } from "./instance-upload.js";
import type { S3Target } from "./s3-target.js";

const PART = 64 * 1024;

type Answer = (res: ServerResponse) => void;
const object = (bytes: number, sha256: string): Answer => (res) => res.writeHead(200, { "Content-Length": String(bytes), "x-amz-meta-sha256": sha256 }).end();
const nothing: Answer = (res) => res.writeHead(404).end();
const completed: Answer = (res) =>
  res.writeHead(200, { "Content-Type": "application/xml" }).end(`<?xml version="1.0"?><CompleteMultipartUploadResult><ETag>"x"</ETag></CompleteMultipartUploadResult>`);
const refused =
  (status: number, code: string): Answer =>
  (res) =>
    res.writeHead(status, { "Content-Type": "application/xml" }).end(`<?xml version="1.0"?><Error><Code>${code}</Code><Message>refused</Message></Error>`);
const preconditionFailed = refused(412, "PreconditionFailed");
const conflict = refused(409, "ConditionalRequestConflict");

let server: Server;
let endpoint: string;
let completions: Answer[];
let heads: Answer[];
let requests: Array<{ what: string; headers: IncomingHttpHeaders }>;

beforeAll(async () => {
  server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      const url = new URL(req.url!, "http://x");
      const note = (what: string) => requests.push({ what, headers: req.headers });
      if (req.method === "POST" && url.searchParams.has("uploads")) {
        note("create");
        res.writeHead(200, { "Content-Type": "application/xml" }).end(`<?xml version="1.0"?><InitiateMultipartUploadResult><UploadId>u1</UploadId></InitiateMultipartUploadResult>`);
      } else if (req.method === "PUT" && url.searchParams.has("partNumber")) {
        note("part");
        res.writeHead(200, { ETag: '"p"' }).end();
      } else if (req.method === "POST" && url.searchParams.has("uploadId")) {
        note("complete");
        (completions.shift() ?? refused(500, "InternalError"))(res);
      } else if (req.method === "GET" && !url.searchParams.has("tagging")) {
        note("get");
        res.writeHead(200, { "Content-Length": String(instanceBytes().length) }).end(instanceBytes());
      } else if (req.method === "HEAD") {
        note("head");
        (heads.shift() ?? nothing)(res);
      } else if (req.method === "PUT" && url.searchParams.has("tagging")) {
        note("tag");
        res.writeHead(200).end();
      } else if (req.method === "DELETE" && url.searchParams.has("uploadId")) {
        note("abort");
        res.writeHead(204).end();
      } else res.writeHead(501).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));
beforeEach(() => {
  requests = [];
});

/** The instance every test sends: two and a half parts. */
const instanceBytes = () => Buffer.alloc(2 * PART + PART / 2, 7);

/** Streams 2.5 parts as one instance (a multipart upload) and finishes it, with the given answers scripted. */
async function upload(script: { completions: Answer[]; heads: Answer[]; policy?: DuplicatePolicy; completionsUsable?: boolean }) {
  completions = [...script.completions];
  heads = [...script.heads];
  // One attempt: every completion and HEAD the test scripts is asked once.
  const client = embeddedStoreClient(endpoint, { maxAttempts: 1 });
  const usable = script.completionsUsable ?? true;
  const instance = instanceBytes();
  const sha256 = createHash("sha256").update(instance).digest("hex");
  const up = new InstanceUpload(
    {
      storage: { client, bucket: "b", amazonS3: false, conditionalWrites: { usable: () => usable, completionsUsable: () => usable } as ConditionalWrites } as S3Target,
      config: { upload: { partSizeBytes: PART, partConcurrency: 2 }, duplicatePolicy: script.policy ?? "reject" },
      metrics: createMetrics(),
    },
    "1.2/3.4/5.6.dcm",
    { sopClassUid: "1.2", transferSyntaxUid: "1.2.840.10008.1.2.1" },
    { log: pino({ level: "silent" }) },
  );
  for (let at = 0; at < instance.length; at += 10_000) await up.write(instance.subarray(at, at + 10_000));
  const result = await up.finish();
  client.destroy();
  const sent = (what: string) => requests.filter((r) => r.what === what);
  return { result, sha256, bytes: instance.length, sent, conditions: sent("complete").map((r) => r.headers["if-none-match"] ?? "none") };
}

describe("a multipart upload completed with If-None-Match: *", () => {
  it("carries the condition when nothing was found at the key, and is tagged once completed", async () => {
    const { result, sent, conditions, sha256 } = await upload({ completions: [completed], heads: [nothing] });
    expect(result).toMatchObject({ stored: true, duplicate: "none", sha256 });
    expect(conditions).toEqual(["*"]);
    expect(sent("tag")).toHaveLength(1);
    expect(sent("abort")).toHaveLength(0);
  });

  it("goes without the condition on a store that does not honour it there", async () => {
    const { result, conditions } = await upload({ completions: [completed], heads: [nothing], completionsUsable: false });
    expect(result).toMatchObject({ stored: true, duplicate: "none" });
    expect(conditions).toEqual(["none"]);
  });

  it("412, other bytes there, DUPLICATE_POLICY=reject: duplicate-differs, and the upload is aborted", async () => {
    const { result, sent, conditions } = await upload({ completions: [preconditionFailed], heads: [nothing, object(5, "other")] });
    expect(result).toMatchObject({ stored: false, failure: "duplicate-differs" });
    expect(conditions).toEqual(["*"]);
    expect(sent("abort")).toHaveLength(1);
    expect(sent("tag")).toHaveLength(0);
  });

  it("412, the same bytes there: acknowledged as an identical duplicate, and the upload is aborted", async () => {
    const same = instanceBytes();
    const { result, sent } = await upload({ completions: [preconditionFailed], heads: [nothing, object(same.length, createHash("sha256").update(same).digest("hex"))] });
    expect(result).toMatchObject({ stored: true, duplicate: "identical" });
    expect(sent("complete")).toHaveLength(1);
    expect(sent("abort")).toHaveLength(1);
  });

  it("412, an object of our size not tagged yet (a completion moments ago): compared byte for byte, found identical", async () => {
    const untagged: Answer = (res) => res.writeHead(200, { "Content-Length": String(instanceBytes().length) }).end();
    const { result, sent } = await upload({ completions: [preconditionFailed], heads: [nothing, untagged, untagged] });
    expect(result).toMatchObject({ stored: true, duplicate: "identical" });
    expect(sent("get")).toHaveLength(1);
    expect(sent("abort")).toHaveLength(1);
  });

  it("412, other bytes there, DUPLICATE_POLICY=overwrite: completed again without the condition (the upload is still there)", async () => {
    const { result, sent, conditions } = await upload({ completions: [preconditionFailed, completed], heads: [nothing, object(5, "other")], policy: "overwrite" });
    expect(result).toMatchObject({ stored: true, duplicate: "overwritten" });
    expect(conditions).toEqual(["*", "none"]);
    expect(sent("tag")).toHaveLength(1);
    expect(sent("abort")).toHaveLength(0);
  });

  it("412 with nothing found: tries the conditional completion again", async () => {
    const { result, conditions } = await upload({ completions: [preconditionFailed, completed], heads: [nothing, nothing] });
    expect(result).toMatchObject({ stored: true, duplicate: "none" });
    expect(conditions).toEqual(["*", "*"]);
  });

  it("409, then the other write's different bytes found: duplicate-differs under reject, without completing again", async () => {
    const { result, sent, conditions } = await upload({ completions: [conflict], heads: [nothing, nothing, object(5, "other")] });
    expect(result).toMatchObject({ stored: false, failure: "duplicate-differs" });
    expect(conditions).toEqual(["*"]);
    expect(sent("head")).toHaveLength(3);
    expect(sent("abort")).toHaveLength(1);
  });

  it("409 under DUPLICATE_POLICY=overwrite: the upload is gone on S3, so a write-conflict to send again, nothing reported stored", async () => {
    const { result, sent, conditions } = await upload({ completions: [conflict], heads: [nothing, object(5, "other")], policy: "overwrite" });
    expect(result).toMatchObject({ stored: false, failure: "write-conflict" });
    expect(conditions).toEqual(["*"]);
    expect(sent("abort")).toHaveLength(1);
  });

  it("409 and nothing ever found: gives up after the same bounded rounds as a single PUT, with write-conflict", async () => {
    const { result, sent } = await upload({ completions: [conflict], heads: [nothing, nothing, nothing, nothing] });
    expect(result).toMatchObject({ stored: false, failure: "write-conflict" });
    expect(sent("complete")).toHaveLength(1);
    expect(sent("head")).toHaveLength(1 + 3);
    expect(sent("abort")).toHaveLength(1);
  });
});
