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
import { READER } from "../app/test/support/oidc-issuer.js";
import { OrthancProcess } from "../app/test/support/orthanc.js";
import { loadSamples } from "../app/test/support/samples.js";
import { startOidcStack, type OidcStack } from "./testing/oidc-stack.js";
import { anyStored, objectsAgainstOrthanc, pushStudy, type ObjectCheck, type Push } from "./testing/orthanc-push.js";
import { makePki } from "./testing/pki.js";

export const RESULT_MARKER = "front-orthanc-oidc-scenario-result";


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
  objects: ObjectCheck[];
  /** sub and clientId of the app's "store request" lines. */
  appPrincipals: Array<{ sub: unknown; clientId: unknown }>;
  /** Whether Orthanc's own log or GET /dicom-web/servers?expand showed the token. */
  tokenShownByOrthanc: boolean;
  error: string | null;
  orthancLogTail: string[];
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

    const { ids, studyId } = await orthanc.storeStudy(samples);
    result.uploaded = ids.size;

    // Refused pushes first, so that the bucket is empty unless the writer's token works.
    result.withoutToken = await pushStudy(orthanc, "anonymous", studyId);
    result.readerToken = await pushStudy(orthanc, "front", studyId);
    if (await anyStored(s3, samples)) throw new Error("a refused push stored objects");

    result.tokenReplaced = (await orthanc.request("PUT", "/dicom-web/servers/front", JSON.stringify({ Url: url, HttpHeaders: { Authorization: `Bearer ${writerToken}` } }))).status;
    result.writerToken = await pushStudy(orthanc, "front", studyId);

    result.objects = await objectsAgainstOrthanc(orthanc, s3, samples, ids);
    result.frontStatuses = front.accessLog().filter((l) => l.uri === "/studies").map((l) => Number(l.status));
    result.appPrincipals = service.logRecords("store request").map((l) => ({ sub: l.sub, clientId: l.clientId }));
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
