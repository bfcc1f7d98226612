// The npm dicomweb-client, as a browser viewer would use it (XMLHttpRequest,
// provided here by xhr2), storing the dcm-samples into the service.
import { HeadObjectCommand } from "@aws-sdk/client-s3";
import { api } from "dicomweb-client";
import XMLHttpRequest from "xhr2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectedKey } from "../support/key-layout.js";
import { startS3rver, type S3rverHandle } from "../support/s3rver.js";
import { loadSamples } from "../support/samples.js";
import { startServiceProcess, type ServiceHandle } from "../support/service.js";
import { checkStoredObjects, checkStowReply, type SentPart, type StoredExpectation } from "../support/stow-check.js";
import type { StowReply } from "../support/stow-client.js";

(globalThis as { XMLHttpRequest?: unknown }).XMLHttpRequest = XMLHttpRequest;

const asArrayBuffer = (b: Buffer) => b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;

interface Stored {
  /** Whether storeInstances resolved (the client treats 200 and 202 as success). */
  resolved: boolean;
  reply: Pick<StowReply, "status" | "contentType" | "text">;
}

describe("dicomweb-client storeInstances against the service", () => {
  let s3: S3rverHandle;
  let service: ServiceHandle;
  let samples: SentPart[];
  let client: InstanceType<typeof api.DICOMwebClient>;

  beforeAll(async () => {
    samples = loadSamples();
    s3 = await startS3rver();
    service = await startServiceProcess(s3.env);
    // verbose: false keeps the client from dumping whole XHR objects on a 409.
    client = new api.DICOMwebClient({ url: service.url, verbose: false, singlepart: false });
  });

  afterAll(async () => {
    await service?.stop();
    await s3?.stop();
  });

  const study = () => (samples[0].expect as StoredExpectation).studyUid;

  // The client hides the status; handing it our own XMLHttpRequest lets the
  // test read the status and headers the service really sent.
  async function store(studyInstanceUID?: string): Promise<Stored> {
    const xhr = new XMLHttpRequest();
    const datasets = samples.map((s) => asArrayBuffer(s.body));
    const request = { instance: xhr as unknown as NonNullable<Parameters<typeof client.storeInstances>[0]["request"]>["instance"] };
    const options = { datasets, request, ...(studyInstanceUID ? { studyInstanceUID } : {}) };
    const resolved = await client.storeInstances(options).then(
      () => true,
      () => false,
    );
    const reply = { status: xhr.status, contentType: xhr.getResponseHeader("content-type") ?? "", text: String(xhr.responseText) };
    return { resolved, reply };
  }

  it("is refused for another study's URL, and nothing is written", async () => {
    const { resolved, reply } = await store("2.25.1");
    expect(resolved, "the client must reject: no instance belongs to the study in the URL").toBe(false);
    expect(reply.status, reply.text).toBe(409);
    const body = JSON.parse(reply.text) as Record<string, { Value?: Record<string, { Value?: unknown[] }>[] }>;
    const failed = (body["00081198"]?.Value ?? []).map((i) => i["00081155"]?.Value?.[0]).sort();
    expect(failed).toEqual(samples.map((s) => (s.expect as StoredExpectation).sopInstanceUid).sort());
    for (const s of samples) {
      const head = s3.client.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: expectedKey(s.expect as StoredExpectation) }));
      await expect(head, `${s.label} must not be stored`).rejects.toMatchObject({ name: "NotFound" });
    }
  });

  it("stores the three samples in one request, byte-exact", async () => {
    const { resolved, reply } = await store();
    expect(resolved).toBe(true);
    checkStowReply(reply, samples, "storeInstances");
    await checkStoredObjects(s3.client, s3.bucket, samples);
  });

  it("stores them again under their study's URL; identical bytes are a success", async () => {
    const { resolved, reply } = await store(study());
    expect(resolved).toBe(true);
    checkStowReply(reply, samples, "storeInstances to /studies/{StudyInstanceUID}");
    await checkStoredObjects(s3.client, s3.bucket, samples);
  });
});
