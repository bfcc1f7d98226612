// Orthanc (Debian, DICOMweb plugin) with a client certificate pushes a study
// through the mutual-TLS front. Orthanc binds every interface, so the whole
// scenario runs in a fresh network namespace with nothing but loopback.
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { useOrthancScenario } from "../app/test/support/orthanc-namespace.js";
import { SAMPLE_NAMES } from "../app/test/support/samples.js";
import { RESULT_MARKER, type ScenarioResult } from "./orthanc-scenario.js";

const repoRoot = fileURLToPath(new URL("../", import.meta.url));
const scenario = fileURLToPath(new URL("./orthanc-scenario.ts", import.meta.url));
const SCENARIO_TIMEOUT_MS = 100_000;

describe("Orthanc's DICOMweb client through the mTLS front", () => {
  const run = useOrthancScenario<ScenarioResult>({ name: "stowrs-front-orthanc", script: scenario, cwd: repoRoot, timeoutMs: SCENARIO_TIMEOUT_MS, marker: RESULT_MARKER });

  it("runs to the end", () => {
    expect(run.result, run.raw).toBeDefined();
    expect(run.result!.error, run.log()).toBeNull();
    expect(run.result!.orthancVersion).toMatch(/^1\./);
    expect(run.result!.uploaded).toBe(SAMPLE_NAMES.length);
  });

  it("is refused with a certificate from another CA and with none, and nothing is stored by those pushes", () => {
    expect(run.result!.stranger?.httpStatus, run.log()).not.toBe(200);
    expect(run.result!.withoutCertificate?.httpStatus, run.log()).not.toBe(200);
    const refusals = run.result!.orthancLogTail.filter((l) => l.includes("received HTTP status 400"));
    expect(refusals.length, run.log()).toBeGreaterThanOrEqual(2);
    // The scenario fails (error set) if a refused push stored anything.
    expect(run.result!.error).toBeNull();
  });

  it("pushes the study with its trusted client certificate; every instance is in S3 as Orthanc holds it", () => {
    expect(run.result!.trusted?.httpStatus, run.log()).toBe(200);
    expect(run.result!.objects.map((o) => o.file).sort()).toEqual([...SAMPLE_NAMES].sort());
    for (const o of run.result!.objects) {
      expect(o.stored, o.key).toBe(true);
      expect(o.equalsOrthancCopy, o.key).toBe(true);
    }
  });

  it("the app logged the certificate's DN for the one request that reached it", () => {
    expect(run.result!.appClientDns).toEqual([run.result!.expectedClientDn]);
  });

  it("Orthanc negotiated HTTP/2 with the front", () => {
    expect(run.result!.frontProtocols).toContain("HTTP/2.0");
  });
});
