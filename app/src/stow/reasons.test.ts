import { describe, expect, it } from "vitest";
import { Reason, reasonForHeaderProblem, reasonForStorageFailure } from "./reasons.js";

describe("PS3.18 reasons for causes found below the STOW layer", () => {
  it("a part that is not readable DICOM is not understood; one without usable UIDs does not match its SOP class", () => {
    expect(reasonForHeaderProblem("unreadable")).toBe(Reason.CannotUnderstand);
    expect(reasonForHeaderProblem("uids")).toBe(Reason.DataSetDoesNotMatchSOPClass);
  });

  it("S3 unavailable is out of resources; a rejected duplicate is a duplicate; anything else a processing failure", () => {
    expect(reasonForStorageFailure("s3-unavailable")).toBe(0xa700);
    expect(reasonForStorageFailure("duplicate-differs")).toBe(0x0111);
    expect(reasonForStorageFailure("s3-error")).toBe(0x0110);
    expect(reasonForStorageFailure("write-conflict")).toBe(0x0110);
  });
});
