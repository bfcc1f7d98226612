// Orthanc's DICOMweb plugin, configured with a client certificate, pushing a
// study through the mutual-TLS front to the app. Orthanc binds every
// interface and cannot be told otherwise, so this script runs inside a network
// namespace that has nothing but `lo` (nginx/orthanc.test.ts sets it up):
//
//   ip netns exec <ns> node --import tsx nginx/orthanc-scenario.ts
//
// It starts the S3 test server, the app, the front and Orthanc on 127.0.0.1,
// uploads the dcm-samples to Orthanc, has Orthanc push the study through the
// front with a trusted certificate, with a certificate from another CA and
// with none, checks the bucket, stops everything and prints one JSON line.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { OrthancProcess } from "../app/test/support/orthanc.js";
import { loadSamples } from "../app/test/support/samples.js";
import { startMtlsStack, type MtlsStack } from "./testing/mtls-stack.js";
import { anyStored, objectsAgainstOrthanc, pushStudy, type ObjectCheck, type Push } from "./testing/orthanc-push.js";
import { makePki } from "./testing/pki.js";
import { until } from "./testing/wait.js";

export const RESULT_MARKER = "front-orthanc-scenario-result";


export interface ScenarioResult {
  marker: typeof RESULT_MARKER;
  orthancVersion: string | null;
  uploaded: number;
  trusted: Push | null;
  stranger: Push | null;
  withoutCertificate: Push | null;
  /** Per sample after all three pushes: stored at its key with Orthanc's bytes. */
  objects: ObjectCheck[];
  /** clientDn of the app's "store request" lines. */
  appClientDns: string[];
  expectedClientDn: string | null;
  /** HTTP versions nginx logged for Orthanc's requests. */
  frontProtocols: string[];
  error: string | null;
  orthancLogTail: string[];
}

export async function runScenario(): Promise<ScenarioResult> {
  const result: ScenarioResult = {
    marker: RESULT_MARKER,
    orthancVersion: null,
    uploaded: 0,
    trusted: null,
    stranger: null,
    withoutCertificate: null,
    objects: [],
    appClientDns: [],
    expectedClientDn: null,
    frontProtocols: [],
    error: null,
    orthancLogTail: [],
  };
  const dir = mkdtempSync(join(tmpdir(), "front-orthanc-"));
  let stack: MtlsStack | undefined;
  let orthanc: OrthancProcess | undefined;
  try {
    const pki = makePki(dir);
    result.expectedClientDn = pki.client.dn;
    const samples = loadSamples();
    stack = await startMtlsStack(pki);
    const { s3, service, front } = stack;
    const url = `${front.url}/`;
    orthanc = await OrthancProcess.start(dir, "front-mtls-test", {
      // The CA Orthanc trusts for the servers it calls; peers are verified.
      HttpsVerifyPeers: true,
      HttpsCACertificates: pki.ca.cert,
      DicomWeb: {
        Enable: true,
        Servers: {
          front: { Url: url, CertificateFile: pki.client.cert, CertificateKeyFile: pki.client.key, CertificateKeyPassword: "" },
          stranger: { Url: url, CertificateFile: pki.strangerClient.cert, CertificateKeyFile: pki.strangerClient.key, CertificateKeyPassword: "" },
          anonymous: { Url: url },
        },
      },
    });
    result.orthancVersion = ((await orthanc.request("GET", "/system")).json as { Version?: string }).Version ?? null;

    const { ids, studyId } = await orthanc.storeStudy(samples);
    result.uploaded = ids.size;

    // Refused pushes first, so that the bucket is empty unless the trusted one works.
    result.stranger = await pushStudy(orthanc, "stranger", studyId);
    result.withoutCertificate = await pushStudy(orthanc, "anonymous", studyId);
    if (await anyStored(s3, samples)) throw new Error("a refused push stored objects");
    result.trusted = await pushStudy(orthanc, "front", studyId);

    result.objects = await objectsAgainstOrthanc(orthanc, s3, samples, ids);
    await until(() => service.logRecords("store request").length > 0, "the app's log line").catch(() => undefined);
    result.appClientDns = service.logRecords("store request").map((l) => String(l.clientDn));
    result.frontProtocols = [...new Set(front.accessLog().map((l) => String(l.protocol)))];
  } catch (e) {
    result.error = e instanceof Error ? e.message : String(e);
  } finally {
    result.orthancLogTail = orthanc?.logTail() ?? [];
    await orthanc?.stop().catch(() => undefined);
    await stack?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  return result;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const result = await runScenario();
  process.stdout.write(`${JSON.stringify(result)}\n`);
}
