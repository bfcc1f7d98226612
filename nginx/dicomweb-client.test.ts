// The npm dicomweb-client (over xhr2, as in Node) storing the dcm-samples
// through the mutual-TLS front. xhr2 takes an https.Agent per request, which
// carries the CA to trust and the client certificate.
import { HeadObjectCommand } from "@aws-sdk/client-s3";
import { Agent } from "node:https";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectedKey } from "../app/test/support/key-layout.js";
import { checkStoredObjects, checkStowReply, type SentPart, type StoredExpectation } from "../app/test/support/stow-check.js";
import { loadSamples } from "../app/test/support/samples.js";
import type { S3rverHandle } from "../app/test/support/s3rver.js";
import type { ServiceHandle } from "../app/test/support/service.js";
import type { FrontHandle } from "./testing/front.js";
import { storeWithDicomwebClient } from "./testing/dicomweb-store.js";
import { startMtlsStack, type MtlsStack } from "./testing/mtls-stack.js";
import { makePki, type Pki } from "./testing/pki.js";
import { until } from "./testing/wait.js";

let pki: Pki;
let pkiDir: string;
let s3: S3rverHandle;
let service: ServiceHandle;
let front: FrontHandle;
let stack: MtlsStack | undefined;
let samples: SentPart[];

beforeAll(async () => {
  pkiDir = mkdtempSync(join(tmpdir(), "front-pki-"));
  pki = makePki(pkiDir);
  samples = loadSamples();
  stack = await startMtlsStack(pki);
  ({ s3, service, front } = stack);
});

afterAll(async () => {
  await stack?.stop();
  rmSync(pkiDir, { recursive: true, force: true });
});

const store = (agent: Agent, studyInstanceUID?: string) => storeWithDicomwebClient({ url: front.url, agent, instances: samples.map((s) => s.body), studyInstanceUID });

describe("dicomweb-client through the mTLS front", () => {
  it("is refused without a client certificate", async () => {
    const result = await store(new Agent({ ca: pki.ca.certPem }));
    expect(result.resolved).toBe(false);
    expect(result.status).toBe(400);
    for (const s of samples) {
      const key = expectedKey(s.expect as StoredExpectation);
      await expect(s3.client.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: key }))).rejects.toMatchObject({
        name: "NotFound",
      });
    }
  });

  it("stores the samples with a trusted client certificate, under /studies and /studies/{uid}", async () => {
    const agent = new Agent({ ca: pki.ca.certPem, cert: pki.client.certPem, key: pki.client.keyPem });
    const first = await store(agent);
    expect(first.resolved, first.text).toBe(true);
    checkStowReply(first, samples, "dicomweb-client via nginx");
    await checkStoredObjects(s3.client, s3.bucket, samples);

    const study = (samples[0].expect as StoredExpectation).studyUid;
    const again = await store(agent, study);
    expect(again.resolved, again.text).toBe(true);
    expect(again.status).toBe(200);
    agent.destroy();

    const lines = () => service.logRecords("store request");
    await until(() => lines().length >= 2, "the app's log lines");
    expect(lines().map((l) => `${l.path} ${l.status} ${l.clientDn}`)).toEqual([
      `/studies 200 ${pki.client.dn}`,
      `/studies/${study} 200 ${pki.client.dn}`,
    ]);
  });
});
