import { describe, expect, it } from "vitest";
import { negotiateResponse } from "./accept.js";
import { statusOf, type StoreResult } from "./outcome.js";
import { Reason } from "./reasons.js";
import { buildStoreResponse } from "./response.js";
import { toNativeDicomModel } from "./response-xml.js";

const stored = { sopClassUid: "1.2.840.10008.5.1.4.1.1.2", sopInstanceUid: "1.2.3.1", studyUid: "1.2.3", seriesUid: "1.2.3.9", stored: true };
const failed = { sopClassUid: "1.2.840.10008.5.1.4.1.1.2", sopInstanceUid: "1.2.3.2", stored: false, reason: Reason.OutOfResources };
const result = (over: Partial<StoreResult>): StoreResult => ({ instances: [], otherFailures: [], parts: 0, bytes: 0, ...over });

describe("statusOf", () => {
  it("follows PS3.18 10.5.3", () => {
    expect(statusOf(result({ instances: [stored] }))).toBe(200);
    expect(statusOf(result({ instances: [stored, failed] }))).toBe(202);
    expect(statusOf(result({ instances: [{ ...stored, warning: 0xb007 }] }))).toBe(202);
    expect(statusOf(result({ instances: [stored], otherFailures: [{ reason: Reason.CannotUnderstand, message: "x" }] }))).toBe(202);
    expect(statusOf(result({ instances: [failed] }))).toBe(409);
    expect(statusOf(result({ otherFailures: [{ reason: Reason.CannotUnderstand, message: "x" }] }))).toBe(409);
    expect(statusOf(result({ requestError: { status: 400, message: "bad" } }))).toBe(400);
    expect(statusOf(result({ requestError: { status: 413, message: "big" } }))).toBe(413);
    expect(statusOf(result({}))).toBe(400);
  });
});

describe("buildStoreResponse", () => {
  it("lists stored, failed and other failures with numeric reasons, omitting empty sequences", () => {
    const json = buildStoreResponse(result({ instances: [stored, failed], otherFailures: [{ reason: Reason.CannotUnderstand, message: "x" }] }), "https://pacs.example/wado");
    expect(json).toEqual({
      "00081190": { vr: "UR", Value: ["https://pacs.example/wado/studies/1.2.3"] },
      "00081198": {
        vr: "SQ",
        Value: [{ "00081150": { vr: "UI", Value: [failed.sopClassUid] }, "00081155": { vr: "UI", Value: ["1.2.3.2"] }, "00081197": { vr: "US", Value: [42752] } }],
      },
      "00081199": {
        vr: "SQ",
        Value: [
          {
            "00081150": { vr: "UI", Value: [stored.sopClassUid] },
            "00081155": { vr: "UI", Value: ["1.2.3.1"] },
            "00081190": { vr: "UR", Value: ["https://pacs.example/wado/studies/1.2.3/series/1.2.3.9/instances/1.2.3.1"] },
          },
        ],
      },
      "0008119A": { vr: "SQ", Value: [{ "00081197": { vr: "US", Value: [49152] } }] },
    });
    expect(buildStoreResponse(result({ instances: [stored] }), undefined)).toEqual({
      "00081199": { vr: "SQ", Value: [{ "00081150": { vr: "UI", Value: [stored.sopClassUid] }, "00081155": { vr: "UI", Value: ["1.2.3.1"] }, "00081190": { vr: "UR" } }] },
    });
  });

  it("has no study RetrieveURL when instances of several studies were stored", () => {
    const other = { ...stored, sopInstanceUid: "1.2.4.1", studyUid: "1.2.4" };
    expect(buildStoreResponse(result({ instances: [stored, other] }), "http://w")["00081190"]).toBeUndefined();
  });
});

describe("toNativeDicomModel", () => {
  it("writes the PS3.19 namespace, items and values", () => {
    const xml = toNativeDicomModel(buildStoreResponse(result({ instances: [stored, failed] }), undefined));
    expect(xml).toContain('<NativeDicomModel xmlns="http://dicom.nema.org/PS3.19/models/NativeDEX">');
    expect(xml).toMatch(/<DicomAttribute tag="00081198" vr="SQ" keyword="FailedSOPSequence">\s*<Item number="1">/);
    expect(xml).toContain('<DicomAttribute tag="00081197" vr="US" keyword="FailureReason">\n        <Value number="1">42752</Value>');
    expect(xml).toContain('<DicomAttribute tag="00081190" vr="UR" keyword="RetrieveURL"/>');
    expect(xml.indexOf("00081198")).toBeLessThan(xml.indexOf("00081199"));
  });
});

describe("negotiateResponse", () => {
  it.each([
    [undefined, "application/dicom+json"],
    ["*/*", "application/dicom+json"],
    ["application/json", "application/json"],
    ["application/dicom+xml", "application/dicom+xml"],
    ["text/html, application/dicom+xml;q=0.5", "application/dicom+xml"],
    ['multipart/related; type="application/dicom+xml"', "application/dicom+xml"],
    ["application/dicom+xml;q=0.2, application/dicom+json;q=0.9", "application/dicom+json"],
  ])("Accept %s -> %s", (accept, type) => {
    expect(negotiateResponse(accept)?.contentType).toBe(type);
  });
  it.each([["text/html"], ["application/dicom+json;q=0"], ["image/png, text/plain"]])("Accept %s -> 406", (accept) => {
    expect(negotiateResponse(accept)).toBeNull();
  });
});
