// The committed dcm-samples and what the client tests expect of them. The UIDs
// come from dcmdump, not from the service's header reader.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { SentPart, StoredExpectation } from "./stow-check.js";

export const SAMPLES_DIR = fileURLToPath(new URL("../../../dcm-samples/", import.meta.url));
export const SAMPLE_NAMES = ["ct-1.dcm", "ct-2.dcm", "ct-3.dcm"];

function uid(dump: string, tag: string): string {
  const found = new RegExp(`^\\(${tag}\\) UI [=\\[]([^\\]\\s]*)`, "m").exec(dump)?.[1];
  if (!found) throw new Error(`dcmdump shows no (${tag})`);
  return found;
}

export function samplePath(name: string): string {
  return `${SAMPLES_DIR}${name}`;
}

export function loadSamples(): SentPart[] {
  return SAMPLE_NAMES.map((name) => {
    const path = samplePath(name);
    // -Un prints UIDs as numbers instead of names such as "=CTImageStorage".
    const dump = execFileSync("dcmdump", ["-q", "-Un", path], { encoding: "utf8" });
    const expectation: StoredExpectation = {
      kind: "stored",
      sopClassUid: uid(dump, "0008,0016"),
      sopInstanceUid: uid(dump, "0008,0018"),
      studyUid: uid(dump, "0020,000d"),
      seriesUid: uid(dump, "0020,000e"),
    };
    return { label: name, body: readFileSync(path), expect: expectation };
  });
}
