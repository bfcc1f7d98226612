// Orthanc (Debian) pushing a study to the service with its DICOMweb plugin's
// STOW-RS client. Orthanc binds every interface and has no option to bind
// loopback only, so this script is meant to run inside a network namespace
// that has nothing but `lo`:
//
//   ip netns exec <ns> node --import tsx app/test/interop/orthanc-scenario.ts
//
// It starts s3rver, the service and Orthanc on 127.0.0.1, uploads the
// dcm-samples to Orthanc, has Orthanc push the study (once synchronously, once
// as a job), compares what landed in S3 with Orthanc's own copy of each
// instance, stops everything and prints one JSON line (the result).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { expectedKey } from "../support/key-layout.js";
import { OrthancProcess } from "../support/orthanc.js";
import { readObject } from "../support/s3-objects.js";
import { startS3rver, type S3rverHandle } from "../support/s3rver.js";
import { loadSamples } from "../support/samples.js";
import { startServiceProcess, type ServiceHandle } from "../support/service.js";
import type { StoredExpectation } from "../support/stow-check.js";

export const RESULT_MARKER = "orthanc-scenario-result";

export interface PushOutcome {
  httpStatus: number;
  body: unknown;
  jobId: string | null;
  jobState: string | null;
  jobError: string | null;
}

export interface ObjectCheck {
  file: string;
  key: string;
  found: boolean;
  contentType: string | null;
  equalsOrthancCopy: boolean;
  equalsSample: boolean;
}

export interface ScenarioResult {
  marker: typeof RESULT_MARKER;
  ok: boolean;
  orthancVersion: string | null;
  uploaded: number;
  synchronous: PushOutcome | null;
  asynchronous: PushOutcome | null;
  objects: ObjectCheck[];
  error: string | null;
  orthancLogTail: string[];
}

async function push(orthanc: OrthancProcess, studyId: string, synchronous: boolean): Promise<PushOutcome> {
  const body = JSON.stringify({ Resources: [studyId], Synchronous: synchronous });
  const reply = await orthanc.request("POST", "/dicom-web/servers/stow/stow", body);
  if (synchronous) {
    const job = await orthanc.lastStowJob();
    const jobError = job && job.State !== "Success" ? `${job.ErrorDescription ?? ""} ${JSON.stringify(job.Content ?? {})}` : null;
    return { httpStatus: reply.status, body: reply.json, jobId: job?.ID ?? null, jobState: job?.State ?? null, jobError };
  }
  const jobId = (reply.json as { ID?: string } | null)?.ID ?? null;
  const job = jobId ? await orthanc.waitForJob(jobId) : { state: null, error: "no job ID in the answer" };
  return { httpStatus: reply.status, body: reply.json, jobId, jobState: job.state, jobError: job.error };
}

export async function runScenario(): Promise<ScenarioResult> {
  const result: ScenarioResult = {
    marker: RESULT_MARKER,
    ok: false,
    orthancVersion: null,
    uploaded: 0,
    synchronous: null,
    asynchronous: null,
    objects: [],
    error: null,
    orthancLogTail: [],
  };
  const dir = mkdtempSync(join(tmpdir(), "orthanc-scenario-"));
  let s3: S3rverHandle | undefined;
  let service: ServiceHandle | undefined;
  let orthanc: OrthancProcess | undefined;
  try {
    const samples = loadSamples();
    s3 = await startS3rver();
    service = await startServiceProcess({ ...s3.env, LOGLEVEL: "INFO" });
    orthanc = await OrthancProcess.start(dir, "stowrs-to-s3-test", { DicomWeb: { Enable: true, Servers: { stow: [`${service.url}/`] } } });
    result.orthancVersion = ((await orthanc.request("GET", "/system")).json as { Version?: string }).Version ?? null;

    const { ids: orthancIds, studyId } = await orthanc.storeStudy(samples);
    result.uploaded = orthancIds.size;

    result.synchronous = await push(orthanc, studyId, true);
    result.asynchronous = await push(orthanc, studyId, false);

    for (const sample of samples) {
      const key = expectedKey(sample.expect as StoredExpectation);
      const orthancCopy = (await orthanc.request("GET", `/instances/${orthancIds.get(sample.label)}/file`)).bytes;
      const check: ObjectCheck = { file: sample.label, key, found: false, contentType: null, equalsOrthancCopy: false, equalsSample: false };
      try {
        const object = await readObject(s3.client, s3.bucket, key);
        if (object) {
          check.found = true;
          check.contentType = object.contentType ?? null;
          check.equalsOrthancCopy = object.bytes.equals(orthancCopy);
          check.equalsSample = object.bytes.equals(sample.body);
        }
      } catch {
        /* not stored: found stays false */
      }
      result.objects.push(check);
    }
    result.ok =
      result.synchronous.httpStatus === 200 &&
      result.synchronous.jobState === "Success" &&
      result.asynchronous.httpStatus === 200 &&
      result.asynchronous.jobState === "Success" &&
      result.objects.length === samples.length &&
      result.objects.every((o) => o.found && o.equalsOrthancCopy && o.contentType === "application/dicom");
  } catch (e) {
    result.error = e instanceof Error ? e.message : String(e);
  } finally {
    result.orthancLogTail = orthanc?.logTail() ?? [];
    await orthanc?.stop().catch(() => undefined);
    await service?.stop().catch(() => undefined);
    await s3?.stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
  return result;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const result = await runScenario();
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exitCode = result.ok ? 0 : 1;
}
