import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { isValidUid, normalizeUid } from "./uid.js";

describe("isValidUid", () => {
  it.each(["1.2.840.10008.1.2", "0", "1.0.3", "2.25.329800735698586629295641978511506172918"])("accepts %s", (uid) => {
    expect(isValidUid(uid)).toBe(true);
  });

  it.each([
    ["empty", ""],
    ["leading zero", "1.02.3"],
    ["empty component", "1..2"],
    ["trailing dot", "1.2."],
    ["letters", "1.2.a"],
    ["slash", "1.2/3"],
    ["dot-dot path", "../1.2"],
    ["65 characters", "1." + "2".repeat(63)],
    ["space", "1.2 "],
  ])("rejects %s", (_, uid) => {
    expect(isValidUid(uid)).toBe(false);
  });

  it("never accepts a value that could leave the key layout (property)", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (s) => {
        if (isValidUid(s)) expect(s).toMatch(/^[0-9.]{1,64}$/);
      }),
      { numRuns: 5000 },
    );
  });
});

describe("normalizeUid", () => {
  it("strips NUL padding", () => {
    expect(normalizeUid("1.2.3\0")).toBe("1.2.3");
    expect(normalizeUid("\0")).toBeUndefined();
    expect(normalizeUid(undefined)).toBeUndefined();
  });
});
