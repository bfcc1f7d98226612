import { describe, expect, it } from "vitest";
import { objectKey } from "./object-key.js";

describe("objectKey", () => {
  const uids = { studyUid: "1.2.3", seriesUid: "1.2.3.4", sopInstanceUid: "1.2.3.4.5" };
  it("follows the layout, with and without a prefix", () => {
    expect(objectKey("", uids)).toBe("1.2.3/1.2.3.4/1.2.3.4.5.dcm");
    expect(objectKey("incoming/dicom", uids)).toBe("incoming/dicom/1.2.3/1.2.3.4/1.2.3.4.5.dcm");
  });
  it.each([["../1"], ["1/2"], ["1..2"], [""]])("refuses the UID %s", (bad) => {
    expect(() => objectKey("", { ...uids, seriesUid: bad })).toThrow();
  });
});
