// Orthanc's DICOMweb plugin sending a bearer token from its server definition's HttpHeaders,
// through the front in AUTH_MODE=oidc, to the app checking tokens from a real OpenID provider.
// Orthanc binds every interface, so this script runs inside a network namespace with nothing
// but `lo` (nginx/orthanc-oidc.test.ts sets it up); the provider, S3 test server, app and front
// start here too, on that namespace's 127.0.0.1:
//
//   ip netns exec <ns> node --import tsx nginx/orthanc-oidc-scenario.ts
//
// Orthanc gets no token by itself: the script asks the provider (client credentials) and
// writes the token into the server definition, first a reader's (refused, 403), then, replaced
// with PUT /dicom-web/servers/{name} without restarting Orthanc, a writer's.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { expectedKey } from "../app/test/support/key-layout.js";
import { READER } from "../app/test/support/oidc-issuer.js";
import { OrthancProcess } from "../app/test/support/orthanc.js";
import { readObject } from "../app/test/support/s3-objects.js";
import { loadSamples } from "../app/test/support/samples.js";
import type { StoredExpectation } from "../app/test/support/stow-check.js";
import { startOidcStack, type OidcStack } from "./testing/oidc-stack.js";
import { makePki } from "./testing/pki.js";

export const RESULT_MARKER = "front-orthanc-oidc-scenario-result";

export interface Push {
  httpStatus: number;
  answer: string;
}

export interface ScenarioResult {
  marker: typeof RESULT_MARKER;
  orthancVersion: string | null;
  uploaded: number;
  withoutToken: Push | null;
  readerToken: Push | null;
  /** Status of the PUT that replaced the header with the writer's token. */
  tokenReplaced: number | null;
  writerToken: Push | null;
  /** Statuses the app answered Orthanc (from nginx's access log), in order. */
  frontStatuses: number[];
  objects: Array<{ file: string; key: string; stored: boolean; equalsOrthancCopy: boolean }>;
  /** sub and clientId of the app's "store request" lines. */
  appPrincipals: Array<{ sub: unknown; clientId: unknown }>;
  /** Whether Orthanc's own log or GET /dicom-web/servers?expand showed the token. */
  tokenShownByOrthanc: boolean;
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
    withoutToken: null,
    readerToken: null,
    tokenReplaced: null,
    writerToken: null,
    frontStatuses: [],
    objects: [],
    appPrincipals: [],
    tokenShownByOrthanc: false,
    error: null,
    orthancLogTail: [],
  };
  const dir = mkdtempSync(join(tmpdir(), "front-orthanc-oidc-"));
  let stack: OidcStack | undefined;
  let orthanc: OrthancProcess | undefined;
  try {
    const pki = makePki(dir);
    const samples = loadSamples();
    stack = await startOidcStack(pki, ["oidc"]);
    const { s3, service, issuer } = stack;
    const front = stack.fronts.oidc;
    const url = `${front.url}/`;
    const readerToken = await issuer.token({ client: READER, scope: "dicomweb.read" });
    const writerToken = await issuer.token();
    orthanc = await OrthancProcess.start(dir, "front-oidc-test", {
      HttpsVerifyPeers: true,
      HttpsCACertificates: pki.ca.cert,
      DicomWeb: {
        Enable: true,
        Servers: {
          // Only the object form of a server definition carries HttpHeaders.
          front: { Url: url, HttpHeaders: { Authorization: `Bearer ${readerToken}` } },
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

    // Refused pushes first, so that the bucket is empty unless the writer's token works.
    result.withoutToken = await push(orthanc, "anonymous", studyId);
    result.readerToken = await push(orthanc, "front", studyId);
    const leftovers = await Promise.all(
      samples.map((s) => readObject(s3.client, s3.bucket, expectedKey(s.expect as StoredExpectation)).then((o) => o !== undefined, () => false)),
    );
    if (leftovers.some(Boolean)) throw new Error("a refused push stored objects");

    result.tokenReplaced = (await orthanc.request("PUT", "/dicom-web/servers/front", JSON.stringify({ Url: url, HttpHeaders: { Authorization: `Bearer ${writerToken}` } }))).status;
    result.writerToken = await push(orthanc, "front", studyId);

    for (const sample of samples) {
      const key = expectedKey(sample.expect as StoredExpectation);
      const orthancCopy = (await orthanc.request("GET", `/instances/${ids.get(sample.label)}/file`)).bytes;
      const object = await readObject(s3.client, s3.bucket, key).catch(() => undefined);
      result.objects.push({ file: sample.label, key, stored: object !== undefined, equalsOrthancCopy: object?.bytes.equals(orthancCopy) ?? false });
    }
    result.frontStatuses = front.accessLog().filter((l) => l.uri === "/studies").map((l) => Number(l.status));
    result.appPrincipals = service
      .logs()
      .flatMap((l) => {
        try {
          return [JSON.parse(l) as { msg?: string; sub?: unknown; clientId?: unknown }];
        } catch {
          return [];
        }
      })
      .filter((l) => l.msg === "store request")
      .map((l) => ({ sub: l.sub, clientId: l.clientId }));
    const servers = (await orthanc.request("GET", "/dicom-web/servers?expand")).text;
    result.tokenShownByOrthanc = [servers, ...orthanc.log].some((text) => text.includes(writerToken) || text.includes(readerToken));
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
