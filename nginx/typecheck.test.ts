// vitest strips types without checking them: type-check the tests and
// helpers (strict TypeScript) and render's JavaScript (JSDoc types).
import { expect, it } from "vitest";
import { typeCheck } from "../app/test/support/type-check.js";

it("type-checks the front's tests and helpers", async () => {
  expect(await typeCheck(new URL("./tsconfig.json", import.meta.url))).toEqual({ code: 0, out: "" });
});

it("type-checks render's JavaScript", async () => {
  expect(await typeCheck(new URL("./lib/tsconfig.json", import.meta.url))).toEqual({ code: 0, out: "" });
});
