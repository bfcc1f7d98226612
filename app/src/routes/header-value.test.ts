import { validateHeaderValue } from "node:http";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { wwwAuthenticate } from "../auth/challenge.js";
import { quotedStringText, visibleAscii } from "./header-value.js";

describe("text from a request on its way into a response header", () => {
  it("is reduced to visible ASCII, one ? per character outside 0x20-0x7E", () => {
    expect(visibleAscii("application/x\x01y")).toBe("application/x?y");
    expect(visibleAscii("caf\u00e9 \u2028 \x7f \r\n")).toBe("caf? ? ? ??");
    expect(visibleAscii("a".repeat(300)).length).toBe(200);
  });

  it("inside a quoted-string, holds no quote or backslash", () => {
    expect(quotedStringText('say "hi" \\ bye')).toBe("say 'hi' ' bye");
  });

  it("always makes a header Node writes, inside a Warning's quoted-string and a WWW-Authenticate (property)", () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.integer({ min: 0, max: 0x10ffff }).map((c) => String.fromCodePoint(c)), maxLength: 300 }), (text) => {
        const warning = `299 stowrs-to-s3 "${quotedStringText(text)}"`;
        expect(() => validateHeaderValue("warning", warning)).not.toThrow();
        expect(warning).toMatch(/^299 stowrs-to-s3 "[^"\\]*"$/);
        const challenge = wwwAuthenticate({ status: 401, reason: "malformed", description: text }, "dicomweb.write");
        expect(() => validateHeaderValue("www-authenticate", challenge)).not.toThrow();
        expect(challenge).toMatch(/^[\x20-\x7e]*$/);
      }),
      { numRuns: 2_000 },
    );
  });
});
