// Orthanc's DICOMweb plugin as a STOW-RS client of the service. Orthanc cannot
// be told to bind loopback only, so the whole scenario (s3rver, service,
// Orthanc) runs in a fresh network namespace that has nothing but `lo`.
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { useOrthancScenario } from "../support/orthanc-namespace.js";
import { RESULT_MARKER, type ScenarioResult } from "./orthanc-scenario.js";
import { SAMPLE_NAMES } from "../support/samples.js";

const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));
const scenarioScript = fileURLToPath(new URL("./orthanc-scenario.ts", import.meta.url));
const SCENARIO_TIMEOUT_MS = 90_000;

describe("Orthanc pushes a study to the service (DICOMweb plugin STOW-RS client)", () => {
  const run = useOrthancScenario<ScenarioResult>({ name: "stowrs-orthanc", script: scenarioScript, cwd: repoRoot, timeoutMs: SCENARIO_TIMEOUT_MS, marker: RESULT_MARKER });

  it("runs to the end and prints its result", () => {
    expect(run.result, run.raw).toBeDefined();
    expect(run.result!.error, run.log()).toBeNull();
    expect(run.result!.orthancVersion).toMatch(/^1\./);
    expect(run.result!.uploaded).toBe(SAMPLE_NAMES.length);
  });

  it("Orthanc reports success for the synchronous push", () => {
    const push = run.result?.synchronous;
    expect(push, run.raw).toBeTruthy();
    expect(push!.httpStatus, JSON.stringify(push)).toBe(200);
    expect(push!.jobState, `${push!.jobError}\n${run.result!.orthancLogTail.join("\n")}`).toBe("Success");
  });

  it("Orthanc's asynchronous push job succeeds too (the same instances again)", () => {
    const push = run.result?.asynchronous;
    expect(push, run.raw).toBeTruthy();
    expect(push!.httpStatus, JSON.stringify(push)).toBe(200);
    expect(push!.jobId).toBeTruthy();
    expect(push!.jobState, `${push!.jobError}\n${run.result!.orthancLogTail.join("\n")}`).toBe("Success");
  });

  it("every instance is in S3 at its key, byte-identical to Orthanc's copy, as application/dicom", () => {
    expect(run.result?.objects.map((o) => o.file).sort(), run.raw).toEqual([...SAMPLE_NAMES].sort());
    for (const o of run.result!.objects) {
      expect(o.found, o.key).toBe(true);
      expect(o.contentType, o.key).toBe("application/dicom");
      expect(o.equalsOrthancCopy, `${o.key} differs from GET /instances/{id}/file`).toBe(true);
      // Orthanc stores what it receives, so this also holds; it pins down that
      // nothing on the way (Orthanc or the service) re-encoded the samples.
      expect(o.equalsSample, `${o.key} differs from dcm-samples/${o.file}`).toBe(true);
    }
  });

  it("the scenario exits 0 exactly when everything above held", () => {
    expect(run.result?.ok, run.raw).toBe(true);
  });
});
