import { describe, expect, it } from "vitest";
import { parseCidr, subnetOf } from "./cidr";

describe("parseCidr", () => {
  it("parses a network range", () => {
    expect(parseCidr("10.20.0.0/16")).toEqual({ text: "10.20.0.0/16", network: (10 * 256 + 20) * 65536, prefixLength: 16 });
    expect(parseCidr("0.0.0.0/0")).toMatchObject({ text: "0.0.0.0/0", prefixLength: 0 });
    expect(parseCidr("203.0.113.7/32")).toMatchObject({ text: "203.0.113.7/32" });
  });

  it.each(["10.0.0.0", "10.0.0/16", "10.0.0.256/32", "010.0.0.0/8", "10.0.0.0/", "a.b.c.d/8", "::/0", " 10.0.0.0/8"])(
    "rejects %s",
    (text) => {
      expect(typeof parseCidr(text)).toBe("string");
    },
  );

  it("names the network when host bits are set", () => {
    expect(parseCidr("192.168.1.77/24")).toBe('"192.168.1.77/24" has host bits set; did you mean 192.168.1.0/24?');
  });
});

describe("subnetOf", () => {
  const vpc = parseCidr("10.40.0.0/16");
  if (typeof vpc === "string") throw new Error(vpc);

  it("splits a range into equal blocks", () => {
    expect([0, 1, 4, 7].map((i) => subnetOf(vpc, 3, i))).toEqual([
      "10.40.0.0/19",
      "10.40.32.0/19",
      "10.40.128.0/19",
      "10.40.224.0/19",
    ]);
  });

  it("refuses blocks outside the range", () => {
    expect(() => subnetOf(vpc, 3, 8)).toThrow(RangeError);
    expect(() => subnetOf(vpc, 17, 0)).toThrow(RangeError);
  });
});
