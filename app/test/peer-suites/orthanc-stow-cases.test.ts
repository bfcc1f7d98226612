// The STOW-RS cases of Orthanc's DICOMweb plugin integration tests, each as a test of the answer
// THIS service gives (facts taken from orthanc-mirrors/orthanc-tests, Plugins/DicomWeb/Run.py @
// a91dc2e1: test_stow, test_stow_errors, test_allowed_methods, test_forwarded_headers; the tests
// are our own), against the real service and a real S3-compatible server.
// Where the answer differs from Orthanc's, the test name says "DIFFERS" and docs/conformance.md ("Where
// this service differs from Orthanc and Microsoft's DICOM server, and why") gives the reason.
//
// Requests are framed as Orthanc's test helper frames them: an unquoted UUID boundary, an
// unquoted type=application/dicom, one part typed application/dicom, no CRLF after the close
// delimiter, Accept: application/json.
import { randomUUID } from "node:crypto";
import { request as httpRequest } from "node:http";
import { HeadObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningService } from "../../src/server.js";
import { buildInstance, CT_IMAGE_STORAGE, newInstanceUids, newUid } from "../support/dicom.js";
import { startInProcessService } from "../support/in-process.js";
import { expectedKey } from "../support/key-layout.js";
import { multipartBody } from "../support/multipart.js";
import { getObject, listKeys } from "../support/s3-objects.js";
import { startS3rver, type S3rverHandle } from "../support/s3rver.js";
import { failedItems, otherReasons, referencedUids } from "../support/store-response.js";
import { postStow, type StowReply } from "../support/stow-client.js";
import { TS } from "../support/transfer-syntaxes.js";

const WADO = "https://pacs.example.org/dicom-web";
/** MR Image Storage, the SOP class of Orthanc's Issue196.dcm. */
const MR_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.4";

let s3: S3rverHandle;
/** WADOURL unset (the default). */
let svc: RunningService;
/** WADOURL set, for the RetrieveURL cases. */
let withWado: RunningService;

beforeAll(async () => {
  s3 = await startS3rver();
  svc = await startInProcessService(s3);
  withWado = await startInProcessService(s3, { WADOURL: WADO });
});
afterAll(async () => {
  await svc?.shutdown();
  await withWado?.shutdown();
  await s3?.stop();
});

/** One part, framed as Orthanc's test helper sends it. */
function postOrthanc(part: Buffer, opts: { path?: string; service?: RunningService; partType?: string; headers?: Record<string, string> } = {}): Promise<StowReply> {
  const boundary = randomUUID();
  const body = multipartBody([{ body: part, contentType: opts.partType ?? "application/dicom" }], boundary, { trailingCrlf: false });
  return postStow((opts.service ?? svc).url, body, boundary, {
    path: opts.path,
    headers: { "Content-Type": `multipart/related; type=application/dicom; boundary=${boundary}`, Accept: "application/json", ...opts.headers },
  });
}

const read = (key: string) => getObject(s3.client, s3.bucket, key);
const keysUnder = async (studyUid: string) => (await listKeys(s3.client, s3.bucket)).filter((k) => k.startsWith(`${studyUid}/`));

describe("Orthanc test_stow", () => {
  it("stores an instance again: 200 both times, one object holding the bytes (Orthanc: the instance count stays 1)", async () => {
    const ids = newInstanceUids();
    const instance = buildInstance(ids);
    const first = await postOrthanc(instance);
    expect(first.status).toBe(200);
    // Accept: application/json is answered in DICOM JSON labelled application/json.
    expect(first.contentType).toBe("application/json");
    const again = await postOrthanc(instance);
    expect(again.status).toBe(200);
    expect(referencedUids(again.json)).toEqual([ids.sopInstanceUid]);
    expect(await keysUnder(ids.studyUid)).toEqual([expectedKey(ids)]);
    expect((await read(expectedKey(ids)))?.equals(instance)).toBe(true);
  });

  it("the answer's attributes: DIFFERS (Orthanc: exactly four, with SpecificCharacterSet and an empty FailedSOPSequence): empty sequences and (0008,0005) are left out", async () => {
    const ids = newInstanceUids();
    const res = await postOrthanc(buildInstance(ids), { service: withWado });
    expect(Object.keys(res.json).sort()).toEqual(["00081190", "00081199"]);
    expect(res.json["00081198"]).toBeUndefined();
    expect(res.json["00080005"]).toBeUndefined();
  });

  it("carries RetrieveURLs for the study and the instance, built from WADOURL", async () => {
    const ids = newInstanceUids();
    const instance = buildInstance(ids);
    const res = await postOrthanc(instance, { service: withWado });
    expect(res.status).toBe(200);
    expect(res.json["00081190"]).toEqual({ vr: "UR", Value: [`${WADO}/studies/${ids.studyUid}`] });
    const item = res.json["00081199"].Value[0];
    expect(item["00081150"]).toEqual({ vr: "UI", Value: [CT_IMAGE_STORAGE] });
    expect(item["00081155"]).toEqual({ vr: "UI", Value: [ids.sopInstanceUid] });
    expect(item["00081190"]).toEqual({ vr: "UR", Value: [`${WADO}/studies/${ids.studyUid}/series/${ids.seriesUid}/instances/${ids.sopInstanceUid}`] });
    // Orthanc then retrieves the study through that URL and compares sizes. This service serves
    // no WADO-RS; what a WADO-RS service behind WADOURL would read is the object, byte for byte.
    expect((await read(expectedKey(ids)))?.equals(instance)).toBe(true);
  });

  it("a part Content-Type with a transfer-syntax parameter is accepted; the File Meta's transfer syntax decides (not in the Run.py read, named by the issue)", async () => {
    const ids = newInstanceUids();
    const instance = buildInstance({ ...ids, transferSyntax: TS.implicitVRLittleEndian });
    const res = await postOrthanc(instance, { partType: `application/dicom; transfer-syntax=${TS.jpegBaseline8Bit}` });
    expect(res.status).toBe(200);
    const head = await s3.client.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: expectedKey(ids) }));
    expect(head.Metadata?.["transfer-syntax-uid"]).toBe(TS.implicitVRLittleEndian);
  });
});

describe("Orthanc test_stow_errors", () => {
  it("POST /studies/nope: DIFFERS (Orthanc 409, 0x0110): 'nope' is no UID, so 400 before the body is read", async () => {
    const ids = newInstanceUids();
    const res = await postOrthanc(buildInstance(ids), { path: "/studies/nope" });
    expect(res.status).toBe(400);
    expect(res.json).toEqual({ status: 400, error: expect.stringContaining("not a valid UID") });
    expect(await read(expectedKey(ids))).toBeUndefined();
  });

  it("an instance of another study than the path's: 409, FailedSOPSequence with both UIDs; code DIFFERS (Orthanc 0x0110): 0xC409", async () => {
    const ids = newInstanceUids();
    const res = await postOrthanc(buildInstance(ids), { path: `/studies/${newUid()}` });
    expect(res.status).toBe(409);
    expect(res.json["00081199"]).toBeUndefined();
    const [item] = res.json["00081198"].Value;
    expect(item["00081150"].Value).toEqual([CT_IMAGE_STORAGE]);
    expect(item["00081155"].Value).toEqual([ids.sopInstanceUid]);
    expect(item["00081197"]).toEqual({ vr: "US", Value: [0xc409] });
    expect(await read(expectedKey(ids))).toBeUndefined();
  });

  it("an instance with missing tags (here: no Series Instance UID, no Modality): DIFFERS (Orthanc 400 without a reason): 409 with 0xA900 naming it", async () => {
    const ids = newInstanceUids();
    const res = await postOrthanc(buildInstance({ ...ids, omit: ["0020000E", "00080060"] }));
    expect(res.status).toBe(409);
    expect(failedItems(res.json)).toEqual([{ uid: ids.sopInstanceUid, reason: 0xa900 }]);
    expect(res.headers.get("warning")).toMatch(/^299 stowrs-to-s3 "/);
  });

  it("a part typed application/dicom holding a text dump: DIFFERS (Orthanc 400 without a reason): 409 with 0xC000 in OtherFailuresSequence", async () => {
    const dump = Buffer.from("# Dicom-File-Format\n\n# Dicom-Meta-Information-Header\n(0002,0010) UI =LittleEndianExplicit\n".repeat(20));
    const res = await postOrthanc(dump);
    expect(res.status).toBe(409);
    expect(otherReasons(res.json)).toEqual([0xc000]);
    expect(res.json["00081198"]).toBeUndefined();
  });

  it("an instance with only SOP Class and SOP Instance UID: DIFFERS (Orthanc 400 with 0xC000): 409, FailedSOPSequence names both UIDs with 0xA900", async () => {
    const sopInstanceUid = newUid();
    const everythingElse = ["00080060", "00100010", "00100020", "0020000D", "0020000E", "00280010", "00280011", "7FE00010"];
    const res = await postOrthanc(buildInstance({ sopClassUid: MR_IMAGE_STORAGE, sopInstanceUid, omit: everythingElse }));
    expect(res.status).toBe(409);
    const [item] = res.json["00081198"].Value;
    expect(item["00081150"].Value).toEqual([MR_IMAGE_STORAGE]);
    expect(item["00081155"].Value).toEqual([sopInstanceUid]);
    expect(item["00081197"].Value).toEqual([0xa900]);
  });
});

describe("Orthanc test_allowed_methods", () => {
  it.each(["PUT", "DELETE"])("%s /studies: 405 with Allow; its value DIFFERS (Orthanc 'GET,POST'): 'POST, OPTIONS', since nothing is served back", async (method) => {
    const res = await new Promise<{ status: number; allow?: string; body: string }>((resolve, reject) => {
      const req = httpRequest(`${svc.url}/studies`, { method }, (r) => {
        let body = "";
        r.on("data", (d) => (body += d));
        r.on("end", () => resolve({ status: r.statusCode!, allow: r.headers.allow, body }));
      });
      req.on("error", reject);
      req.end();
    });
    expect(res.status).toBe(405);
    expect(res.allow).toBe("POST, OPTIONS");
    expect(JSON.parse(res.body)).toMatchObject({ status: 405 });
  });
});

describe("Orthanc test_forwarded_headers (Orthanc tests it on WADO-RS metadata; here on the STOW-RS RetrieveURLs)", () => {
  const forwarded: Array<[string, Record<string, string>]> = [
    ["Host", { Host: "my-domain" }],
    ["Forwarded", { Forwarded: "host=my-domain;proto=https" }],
    ["X-Forwarded-Host and X-Forwarded-Proto", { "X-Forwarded-Host": "my-domain", "X-Forwarded-Proto": "https" }],
  ];

  it.each(forwarded)(
    "with %s and WADOURL unset: DIFFERS (Orthanc builds URLs from them): no study RetrieveURL and an empty instance RetrieveURL, since this service serves no WADO-RS to point at",
    async (_, headers) => {
      const ids = newInstanceUids();
      const res = await postOrthanc(buildInstance(ids), { headers });
      expect(res.status).toBe(200);
      expect(res.json["00081190"]).toBeUndefined();
      expect(res.json["00081199"].Value[0]["00081190"]).toEqual({ vr: "UR" });
      expect(res.text).not.toContain("my-domain");
    },
  );

  it.each(forwarded)("with %s and WADOURL set: the URLs come from WADOURL alone", async (_, headers) => {
    const ids = newInstanceUids();
    const res = await postOrthanc(buildInstance(ids), { headers, service: withWado });
    expect(res.status).toBe(200);
    expect(res.json["00081190"].Value).toEqual([`${WADO}/studies/${ids.studyUid}`]);
    expect(res.text).not.toContain("my-domain");
  });
});
