import { describe, expect, it } from "vitest";
import { takeOption } from "./cli-options";

describe("takeOption", () => {
  it("returns the value after the option and leaves the other arguments in order", () => {
    const args = ["--client-cert", "c.pem", "prod", "--client-key", "k.pem"];
    expect(takeOption(args, "--client-key")).toBe("k.pem");
    expect(takeOption(args, "--client-cert")).toBe("c.pem");
    expect(args).toEqual(["prod"]);
  });

  it("leaves the arguments alone when the option is absent", () => {
    const args = ["prod", "--ca", "ca.pem"];
    expect(takeOption(args, "--outputs")).toBeUndefined();
    expect(args).toEqual(["prod", "--ca", "ca.pem"]);
  });

  it("takes an option given last without a value, which then counts as not given", () => {
    const args = ["prod", "--outputs"];
    expect(takeOption(args, "--outputs")).toBeUndefined();
    expect(args).toEqual(["prod"]);
  });
});
