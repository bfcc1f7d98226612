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
import { expectedKey } from "../app/test/support/key-layout.js";
import { OrthancProcess } from "../app/test/support/orthanc.js";
import { readObject } from "../app/test/support/s3-objects.js";
import { loadSamples } from "../app/test/support/samples.js";
import type { StoredExpectation } from "../app/test/support/stow-check.js";
import { startMtlsStack, type MtlsStack } from "./testing/mtls-stack.js";
import { makePki } from "./testing/pki.js";
import { until } from "./testing/wait.js";

export const RESULT_MARKER = "front-orthanc-scenario-result";

export interface Push {
  /** Orthanc's answer to POST /dicom-web/servers/{name}/stow. */
  httpStatus: number;
  answer: string;
}

export interface ScenarioResult {
  marker: typeof RESULT_MARKER;
  orthancVersion: string | null;
  uploaded: number;
  trusted: Push | null;
  stranger: Push | null;
  withoutCertificate: Push | null;
  /** Per sample after all three pushes: stored at its key with Orthanc's bytes. */
  objects: Array<{ file: string; key: string; stored: boolean; equalsOrthancCopy: boolean }>;
  /** clientDn of the app's "store request" lines. */
  appClientDns: string[];
  expectedClientDn: string | null;
  /** HTTP versions nginx logged for Orthanc's requests. */
  frontProtocols: string[];
  error: string | null;
  orthancLogTail: string[];
}

async function push(orthanc: OrthancProcess, server: string, studyId: string): Promise<Push> {
  const reply = await orthanc.request("POST", `/dicom-web/servers/${server}/stow`, JSON.stringify({ Resources: [studyId], Synchronous: true }));
  return { httpStatus: reply.status, answer: reply.text.slice(0, 500) };
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

    const ids = new Map<string, string>();
    const studies = new Set<string>();
    for (const sample of samples) {
      const reply = await orthanc.request("POST", "/instances", sample.body);
      const answer = JSON.parse(reply.text) as { ID?: string; ParentStudy?: string };
      if (reply.status !== 200 || !answer.ID || !answer.ParentStudy) throw new Error(`Orthanc refused ${sample.label}: ${reply.status} ${reply.text}`);
      ids.set(sample.label, answer.ID);
      studies.add(answer.ParentStudy);
      result.uploaded += 1;
    }
    if (studies.size !== 1) throw new Error(`the samples should form one study in Orthanc, got ${studies.size}`);
    const [studyId] = studies;

    // Refused pushes first, so that the bucket is empty unless the trusted one works.
    result.stranger = await push(orthanc, "stranger", studyId);
    result.withoutCertificate = await push(orthanc, "anonymous", studyId);
    const refusedLeftSomething = await Promise.all(
      samples.map((s) => readObject(s3.client, s3.bucket, expectedKey(s.expect as StoredExpectation)).then((o) => o !== undefined, () => false)),
    );
    if (refusedLeftSomething.some(Boolean)) throw new Error("a refused push stored objects");
    result.trusted = await push(orthanc, "front", studyId);

    for (const sample of samples) {
      const key = expectedKey(sample.expect as StoredExpectation);
      const orthancCopy = (await orthanc.request("GET", `/instances/${ids.get(sample.label)}/file`)).bytes;
      const object = await readObject(s3.client, s3.bucket, key).catch(() => undefined);
      result.objects.push({ file: sample.label, key, stored: object !== undefined, equalsOrthancCopy: object?.bytes.equals(orthancCopy) ?? false });
    }
    const appLines = () =>
      service
        .logs()
        .filter((l) => l.includes('"store request"'));
    await until(() => appLines().length > 0, "the app's log line").catch(() => undefined);
    result.appClientDns = service
      .logs()
      .flatMap((l) => {
        try {
          return [JSON.parse(l) as { msg?: string; clientDn?: string }];
        } catch {
          return [];
        }
      })
      .filter((l) => l.msg === "store request")
      .map((l) => String(l.clientDn));
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
