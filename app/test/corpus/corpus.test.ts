// Real-world corpus: DICOM files from other toolkits, in every transfer
// syntax Debian's pydicom test set has (plus a few dcmtk derives from them),
// and files that are not storable instances. Sent through the real service
// into a real S3-compatible server.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectedKey } from "../support/key-layout.js";
import { listKeys } from "../support/s3-objects.js";
import { startS3rver, type S3rverHandle } from "../support/s3rver.js";
import { startServiceProcess, type ServiceHandle } from "../support/service.js";
import { checkStoredObjects, checkStowReply, sentBody, type SentPart, type StoredExpectation } from "../support/stow-check.js";
import { postStow } from "../support/stow-client.js";
import { PYDICOM_TEST_FILES, REASON, REJECTED, STORABLE } from "./corpus-files.js";
import { DERIVED_REJECTED, DERIVED_STORABLE, deriveFiles, UN_SEQUENCE_FILE } from "./derived-files.js";
import { readUidsWithPydicom } from "./pydicom-uids.js";

const MIN_TRANSFER_SYNTAXES = 12;
const MAX_PARTS_PER_REQUEST = 10;
// PS3.5 9.1: digits and dots, no empty component, no leading zero, at most 64 characters.
const VALID_UID = /^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$/;

const available = (name: string) => existsSync(join(PYDICOM_TEST_FILES, name));
const missing = [...STORABLE, ...REJECTED].filter((f) => !available(f.name)).map((f) => f.name);
const storableNames = [
  ...STORABLE.filter((f) => available(f.name)).map((f) => f.name),
  ...DERIVED_STORABLE.filter((d) => available(d.source)).map((d) => d.name),
  ...(available(UN_SEQUENCE_FILE.source) ? [UN_SEQUENCE_FILE.name] : []),
];
const rejectedNames = [
  ...REJECTED.filter((f) => available(f.name)).map((f) => f.name),
  ...DERIVED_REJECTED.filter((d) => available(d.source)).map((d) => d.name),
];

describe("real-world DICOM corpus through the service", () => {
  const workDir = mkdtempSync(join(tmpdir(), "stow-corpus-"));
  const parts = new Map<string, SentPart>();
  const listedSyntax = new Map<string, string>();
  const readSyntax = new Map<string, string | null>();
  const storablePaths = new Map<string, string>();
  let wrongTypePart: SentPart | undefined;
  let s3: S3rverHandle;
  let service: ServiceHandle;
  let boundaryCounter = 0;
  const nextBoundary = () => `corpus-${++boundaryCounter}-${"x".repeat(24)}`;

  beforeAll(async () => {
    if (missing.length > 0) console.warn(`corpus: not in this Debian pydicom, skipped: ${missing.join(", ")}`);
    const derived = deriveFiles(PYDICOM_TEST_FILES, workDir, available);

    for (const f of STORABLE.filter((f) => available(f.name))) {
      storablePaths.set(f.name, join(PYDICOM_TEST_FILES, f.name));
      listedSyntax.set(f.name, f.transferSyntax);
    }
    for (const d of derived.storable) {
      storablePaths.set(d.name, d.path);
      listedSyntax.set(d.name, d.transferSyntax);
    }
    const identifiable = derived.rejected.filter((d) => d.identifiable);
    const uids = readUidsWithPydicom([...storablePaths.values(), ...identifiable.map((d) => d.path)]);

    for (const [name, path] of storablePaths) {
      const u = uids[path];
      readSyntax.set(name, u.transferSyntax);
      const expectation: StoredExpectation = {
        kind: "stored",
        sopClassUid: u.sopClass ?? "",
        sopInstanceUid: u.sopInstance ?? "",
        studyUid: u.study ?? "",
        seriesUid: u.series ?? "",
      };
      parts.set(name, { label: name, body: readFileSync(path), expect: expectation });
    }
    for (const f of REJECTED.filter((f) => available(f.name))) {
      parts.set(f.name, { label: f.name, body: readFileSync(join(PYDICOM_TEST_FILES, f.name)), expect: { kind: "failed", reason: f.reason } });
    }
    for (const d of derived.rejected) {
      const u = uids[d.path];
      const names = d.identifiable ? { sopClassUid: u.sopClass ?? "", sopInstanceUid: u.sopInstance ?? "" } : undefined;
      parts.set(d.name, { label: d.name, body: readFileSync(d.path), expect: { kind: "failed", reason: d.reason, names } });
    }
    if (derived.wrongType) {
      wrongTypePart = {
        label: "CT_small.dcm sent as text/plain",
        body: readFileSync(derived.wrongType),
        contentType: "text/plain",
        expect: { kind: "failed", reason: REASON.notDicom },
      };
    }
  });

  afterAll(() => rmSync(workDir, { recursive: true, force: true }));

  const storableParts = () => storableNames.map((n) => parts.get(n)!);
  const rejectedParts = () => rejectedNames.map((n) => parts.get(n)!);
  const sopOf = (p: SentPart) => (p.expect.kind === "stored" ? p.expect.sopInstanceUid : p.expect.names?.sopInstanceUid);

  // Many corpus files are re-encodings of one instance and share its SOP
  // Instance UID; two of them in one request would race for one key. Spread
  // them over requests so every request names each instance at most once.
  function requestsWithDistinctInstances(all: SentPart[]): SentPart[][] {
    const requests: SentPart[][] = [];
    for (const part of all) {
      const sop = sopOf(part);
      let target = requests.find((r) => r.length < MAX_PARTS_PER_REQUEST && !r.some((q) => sop !== undefined && sopOf(q) === sop));
      if (!target) requests.push((target = []));
      target.push(part);
    }
    return requests;
  }

  async function exchange(sent: SentPart[], context: string) {
    const boundary = nextBoundary();
    const reply = await postStow(service.url, sentBody(sent, boundary), boundary);
    checkStowReply(reply, sent, context);
    await checkStoredObjects(s3.client, s3.bucket, sent);
  }

  it("each file carries the transfer syntax listed for it and four valid UIDs", () => {
    for (const name of storableNames) {
      expect(readSyntax.get(name), name).toBe(listedSyntax.get(name));
      const e = parts.get(name)!.expect as StoredExpectation;
      for (const uid of [e.sopClassUid, e.sopInstanceUid, e.studyUid, e.seriesUid]) {
        expect(uid.length <= 64 && VALID_UID.test(uid), `${name}: UID "${uid}"`).toBe(true);
      }
    }
  });

  it("each storable file is read by dcmdump without an error", () => {
    for (const [name, path] of storablePaths) {
      const run = spawnSync("dcmdump", ["-q", "+P", "0008,0018", path], { encoding: "utf8" });
      expect(run.error, "dcmdump (Debian dcmtk) must be installed").toBeUndefined();
      expect(run.status, `${name}: ${run.stderr}`).toBe(0);
    }
  });

  it(`covers at least ${MIN_TRANSFER_SYNTAXES} transfer syntaxes`, () => {
    const covered = new Set(storableNames.map((n) => readSyntax.get(n)));
    expect(covered.size, [...covered].join(" ")).toBeGreaterThanOrEqual(MIN_TRANSFER_SYNTAXES);
  });

  describe("sent to the service", () => {
    beforeAll(async () => {
      s3 = await startS3rver();
      service = await startServiceProcess(s3.env);
    });

    afterAll(async () => {
      await service?.stop();
      await s3?.stop();
    });

    it("stores every instance byte-exact when sent several per request", async () => {
      const requests = requestsWithDistinctInstances(storableParts());
      expect(requests.length).toBeGreaterThan(1);
      for (const [i, sent] of requests.entries()) await exchange(sent, `request ${i + 1}/${requests.length}`);
    });

    it("answers a request mixing storable and unusable parts with 202, each part with its own outcome", async () => {
      const failing = [...rejectedParts(), ...(wrongTypePart ? [wrongTypePart] : [])];
      const taken = new Set(failing.map(sopOf).filter((s): s is string => s !== undefined));
      const storable: SentPart[] = [];
      for (const p of storableParts()) {
        if (storable.length === 6) break;
        const sop = (p.expect as StoredExpectation).sopInstanceUid;
        if (!taken.has(sop)) {
          storable.push(p);
          taken.add(sop);
        }
      }
      // Interleave so a failure sits between stored instances on both sides.
      const sent: SentPart[] = [];
      for (let i = 0; i < Math.max(failing.length, storable.length); i++) {
        if (storable[i]) sent.push(storable[i]);
        if (failing[i]) sent.push(failing[i]);
      }
      expect(storable.length).toBeGreaterThan(0);
      await exchange(sent, "mixed request");
    });

    it("answers a request of only unusable parts with 409 and a numeric reason for each", async () => {
      const sent = [...rejectedParts(), ...(wrongTypePart ? [wrongTypePart] : [])];
      expect(sent.length).toBeGreaterThanOrEqual(8);
      await exchange(sent, "all-unusable request");
    });

    it.each(storableNames)("stores %s sent alone (200)", async (name) => {
      await exchange([parts.get(name)!], name);
    });

    it.each(rejectedNames)("rejects %s sent alone (409)", async (name) => {
      await exchange([parts.get(name)!], name);
    });

    it("leaves nothing in the bucket but the storable instances, each at its key", async () => {
      const keys = await listKeys(s3.client, s3.bucket);
      const expected = new Set(storableParts().map((p) => expectedKey(p.expect as StoredExpectation)));
      expect(keys.sort()).toEqual([...expected].sort());
    });
  });
});
