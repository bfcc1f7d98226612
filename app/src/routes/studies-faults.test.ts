// Faults of the service itself (bugs, errors no layer turned into a cause), made to happen at each
// stage of a store request after its body began to be read: the answer is still the Store
// Instances Response, listing what was stored, with the fault as a processing failure (0x0110);
// never a 500, never text/plain. The details go to the log only.
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { buildInstance, newInstanceUids } from "../../test/support/dicom.js";
import { startInProcessService } from "../../test/support/in-process.js";
import { expectedKey } from "../../test/support/key-layout.js";
import { multipartBody } from "../../test/support/multipart.js";
import { getObject } from "../../test/support/s3-objects.js";
import { startS3rver, type S3rverHandle } from "../../test/support/s3rver.js";
import { failedItems, otherReasons, referencedUids } from "../../test/support/store-response.js";
import { postStow } from "../../test/support/stow-client.js";
import { MultipartReader } from "../multipart/reader.js";
import type { RunningService } from "../server.js";
import { InstanceUpload } from "../storage/instance-upload.js";
import { Reason } from "../stow/reasons.js";

let s3: S3rverHandle;
let svc: RunningService;

beforeAll(async () => {
  s3 = await startS3rver();
  svc = await startInProcessService(s3);
});
afterAll(async () => {
  await svc?.shutdown();
  await s3?.stop();
});
afterEach(() => vi.restoreAllMocks());

const B = "faults-boundary";
const post = (parts: Buffer[], accept = "application/dicom+json") => postStow(svc.url, multipartBody(parts, B), B, { headers: { Accept: accept } });

/** A bug that strikes on the n-th call (1-based) of a method, and only then. */
function faultOnCall<T extends object>(proto: T, method: keyof T, n: number) {
  const original = proto[method] as (...args: unknown[]) => unknown;
  let calls = 0;
  return vi.spyOn(proto, method as never).mockImplementation(function (this: unknown, ...args: unknown[]) {
    calls += 1;
    if (calls === n) throw new TypeError("an injected fault");
    return original.apply(this, args);
  } as never);
}

function expectStoreResponse(res: Awaited<ReturnType<typeof post>>) {
  expect(res.status).not.toBe(500);
  expect(res.contentType).toBe("application/dicom+json");
  expect(res.text).not.toMatch(/injected/);
}

describe("a fault of the service during a store request", () => {
  it("while reading the parts, after two instances were stored: 202, both listed, the fault 0x0110, the connection closed", async () => {
    const [a, b, c] = [newInstanceUids(), newInstanceUids(), newInstanceUids()];
    faultOnCall(MultipartReader.prototype, "nextPart", 3);
    const res = await post([buildInstance(a), buildInstance(b), buildInstance(c)]);
    expectStoreResponse(res);
    expect(res.status).toBe(202);
    expect(referencedUids(res.json)).toEqual([a.sopInstanceUid, b.sopInstanceUid]);
    expect(otherReasons(res.json)).toEqual([Reason.ProcessingFailure]);
    expect(res.headers.get("connection")).toBe("close");
    expect(res.headers.get("warning")).toMatch(/processing failure/);
    expect(await getObject(s3.client, s3.bucket, expectedKey(c))).toBeUndefined();
  });

  it("before any instance was stored: 409 with 0x0110", async () => {
    faultOnCall(MultipartReader.prototype, "nextPart", 1);
    const res = await post([buildInstance()]);
    expectStoreResponse(res);
    expect(res.status).toBe(409);
    expect(otherReasons(res.json)).toEqual([Reason.ProcessingFailure]);
  });

  it("inside an instance's body: that instance fails 0x0110 under its own UID, the one before is listed", async () => {
    const [a, b] = [newInstanceUids(), newInstanceUids()];
    // readBody: the first part's header read and body, then the second part's; the fault strikes within the second.
    const big = buildInstance({ ...b, pixels: 200_000 });
    const original = MultipartReader.prototype.readBody;
    let seenSecond = false;
    vi.spyOn(MultipartReader.prototype, "readBody").mockImplementation(async function (this: MultipartReader) {
      const chunk = await original.call(this);
      if (chunk && chunk.includes(Buffer.from(b.sopInstanceUid))) seenSecond = true;
      else if (seenSecond && chunk) throw new TypeError("an injected fault");
      return chunk;
    });
    const res = await post([buildInstance(a), big]);
    expectStoreResponse(res);
    expect(res.status).toBe(202);
    expect(referencedUids(res.json)).toEqual([a.sopInstanceUid]);
    expect(failedItems(res.json)).toEqual([{ uid: b.sopInstanceUid, reason: Reason.ProcessingFailure }]);
    expect(await getObject(s3.client, s3.bucket, expectedKey(b))).toBeUndefined();
  });

  it("when an upload's outcome cannot be settled: that instance fails 0x0110, the others are stored", async () => {
    const [a, b] = [newInstanceUids(), newInstanceUids()];
    const original = InstanceUpload.prototype.finish;
    let calls = 0;
    vi.spyOn(InstanceUpload.prototype, "finish").mockImplementation(function (this: InstanceUpload) {
      calls += 1;
      return calls === 2 ? Promise.reject(new TypeError("an injected fault")) : original.call(this);
    });
    const res = await post([buildInstance(a), buildInstance(b)]);
    expectStoreResponse(res);
    expect(res.status).toBe(202);
    expect(referencedUids(res.json)).toEqual([a.sopInstanceUid]);
    expect(failedItems(res.json)).toEqual([{ uid: b.sopInstanceUid, reason: Reason.ProcessingFailure }]);
  });

  for (const accept of ["application/dicom+json", "application/dicom+xml"]) {
    it(`after the instances were stored, in the route (${accept}): the central handler still answers with them, 202 and 0x0110`, async () => {
      const [a, b] = [newInstanceUids(), newInstanceUids()];
      faultOnCall(svc.context.metrics.requests, "inc", 1);
      const res = await post([buildInstance(a), buildInstance(b)], accept);
      expect(res.status).toBe(202);
      expect(res.contentType).toBe(accept);
      if (accept.endsWith("json")) {
        expect(referencedUids(res.json)).toEqual([a.sopInstanceUid, b.sopInstanceUid]);
        expect(otherReasons(res.json)).toEqual([Reason.ProcessingFailure]);
      } else {
        expect(res.text).toContain(a.sopInstanceUid);
        expect(res.text).toContain(b.sopInstanceUid);
        expect(res.text).toMatch(/<DicomAttribute tag="0008119A"[^]*<Value number="1">272<\/Value>/);
      }
      expect(await getObject(s3.client, s3.bucket, expectedKey(b))).toBeDefined();
    });
  }

  it("as the first instance is about to be uploaded: 409 with 0x0110", async () => {
    faultOnCall(svc.context.storage.conditionalWrites, "usable", 1);
    const res = await post([buildInstance()]);
    expectStoreResponse(res);
    expect(res.status).toBe(409);
    expect(otherReasons(res.json)).toEqual([Reason.ProcessingFailure]);
  });
});
