import { expect, it } from "vitest";
import { typeCheck } from "../test/support/type-check.js";

it("type-checks the service code (what app/Dockerfile builds)", async () => {
  expect(await typeCheck(new URL("../tsconfig.build.json", import.meta.url))).toEqual({ code: 0, out: "" });
});

it("type-checks the unit tests beside the code and everything under app/test", async () => {
  expect(await typeCheck(new URL("../tsconfig.json", import.meta.url))).toEqual({ code: 0, out: "" });
});

it("type-checks the benchmarks, which build on app/test/support", async () => {
  expect(await typeCheck(new URL("../../bench/tsconfig.json", import.meta.url))).toEqual({ code: 0, out: "" });
});
