// Orthanc (Debian, DICOMweb plugin) with a client certificate pushes a study
// through the mutual-TLS front. Orthanc binds every interface, so the whole
// scenario runs in a fresh network namespace with nothing but loopback.
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runOrthancScenario } from "../app/test/support/orthanc-namespace.js";
import { SAMPLE_NAMES } from "../app/test/support/samples.js";
import { RESULT_MARKER, type ScenarioResult } from "./orthanc-scenario.js";

const repoRoot = fileURLToPath(new URL("../", import.meta.url));
const scenario = fileURLToPath(new URL("./orthanc-scenario.ts", import.meta.url));
const namespace = `stowrs-front-orthanc-${process.pid}`;
let remove: (() => void) | undefined;
const SCENARIO_TIMEOUT_MS = 100_000;

describe("Orthanc's DICOMweb client through the mTLS front", () => {
  let result: ScenarioResult | undefined;
  let raw = "";

  beforeAll(async () => {
    const run = await runOrthancScenario<ScenarioResult>({ namespace, script: scenario, cwd: repoRoot, timeoutMs: SCENARIO_TIMEOUT_MS, marker: RESULT_MARKER });
    remove = run.remove;
    ({ result, raw } = run);
  }, SCENARIO_TIMEOUT_MS + 30_000);

  afterAll(() => remove?.());

  const log = () => `${raw}\nOrthanc log:\n${result?.orthancLogTail.join("\n")}`;

  it("runs to the end", () => {
    expect(result, raw).toBeDefined();
    expect(result!.error, log()).toBeNull();
    expect(result!.orthancVersion).toMatch(/^1\./);
    expect(result!.uploaded).toBe(SAMPLE_NAMES.length);
  });

  it("is refused with a certificate from another CA and with none, and nothing is stored by those pushes", () => {
    expect(result!.stranger?.httpStatus, log()).not.toBe(200);
    expect(result!.withoutCertificate?.httpStatus, log()).not.toBe(200);
    const refusals = result!.orthancLogTail.filter((l) => l.includes("received HTTP status 400"));
    expect(refusals.length, log()).toBeGreaterThanOrEqual(2);
    // The scenario fails (error set) if a refused push stored anything.
    expect(result!.error).toBeNull();
  });

  it("pushes the study with its trusted client certificate; every instance is in S3 as Orthanc holds it", () => {
    expect(result!.trusted?.httpStatus, log()).toBe(200);
    expect(result!.objects.map((o) => o.file).sort()).toEqual([...SAMPLE_NAMES].sort());
    for (const o of result!.objects) {
      expect(o.stored, o.key).toBe(true);
      expect(o.equalsOrthancCopy, o.key).toBe(true);
    }
  });

  it("the app logged the certificate's DN for the one request that reached it", () => {
    expect(result!.appClientDns).toEqual([result!.expectedClientDn]);
  });

  it("Orthanc negotiated HTTP/2 with the front", () => {
    expect(result!.frontProtocols).toContain("HTTP/2.0");
  });
});
