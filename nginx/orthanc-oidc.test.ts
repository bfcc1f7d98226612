// Orthanc (Debian, DICOMweb plugin) sends a bearer token from its server definition's
// HttpHeaders through the front in oidc mode. Orthanc binds every interface, so the whole
// scenario (provider, S3 test server, app, front, Orthanc) runs in a fresh network namespace
// with nothing but loopback.
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { useOrthancScenario } from "../app/test/support/orthanc-namespace.js";
import { SAMPLE_NAMES } from "../app/test/support/samples.js";
import { RESULT_MARKER, type ScenarioResult } from "./orthanc-oidc-scenario.js";

const repoRoot = fileURLToPath(new URL("../", import.meta.url));
const scenario = fileURLToPath(new URL("./orthanc-oidc-scenario.ts", import.meta.url));
const SCENARIO_TIMEOUT_MS = 100_000;

describe("Orthanc's DICOMweb client with a bearer token through the oidc front", () => {
  const run = useOrthancScenario<ScenarioResult>({ name: "stowrs-front-orthanc-oidc", script: scenario, cwd: repoRoot, timeoutMs: SCENARIO_TIMEOUT_MS, marker: RESULT_MARKER });

  it("runs to the end", () => {
    expect(run.result, run.raw).toBeDefined();
    expect(run.result!.error, run.log()).toBeNull();
    expect(run.result!.orthancVersion).toMatch(/^1\./);
    expect(run.result!.uploaded).toBe(SAMPLE_NAMES.length);
  });

  it("is refused without a token (401) and with a reader's token (403); those pushes stored nothing", () => {
    expect(run.result!.withoutToken?.httpStatus, run.log()).not.toBe(200);
    expect(run.result!.readerToken?.httpStatus, run.log()).not.toBe(200);
    expect(run.result!.frontStatuses.slice(0, 2), run.log()).toEqual([401, 403]);
    // The scenario fails (error set) if a refused push stored anything.
    expect(run.result!.error).toBeNull();
  });

  it("pushes the study once the header holds a writer's token (replaced without a restart); every instance is in S3 as Orthanc holds it", () => {
    expect(run.result!.tokenReplaced, run.log()).toBe(200);
    expect(run.result!.writerToken?.httpStatus, run.log()).toBe(200);
    expect(run.result!.frontStatuses.at(-1)).toBe(200);
    expect(run.result!.objects.map((o) => o.file).sort()).toEqual([...SAMPLE_NAMES].sort());
    for (const o of run.result!.objects) {
      expect(o.stored, o.key).toBe(true);
      expect(o.equalsOrthancCopy, o.key).toBe(true);
    }
  });

  it("the app logged the token's client for the stored request, and Orthanc showed the token nowhere", () => {
    expect(run.result!.appPrincipals).toEqual([{ sub: "modality-1", clientId: "modality-1" }]);
    expect(run.result!.tokenShownByOrthanc).toBe(false);
  });
});
