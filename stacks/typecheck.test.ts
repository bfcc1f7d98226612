// vitest strips types without checking them: type-check the Pulumi program, its tools (plan,
// rehearse, smoke), their tests and the app and front modules they import, as
// `npm run typecheck` does.
import * as path from "node:path";
import { expect, it } from "vitest";
import { typeCheck } from "../app/test/support/type-check";

it("type-checks the stacks project (stacks/tsconfig.json)", async () => {
  expect(await typeCheck(path.join(__dirname, "tsconfig.json"))).toEqual({ code: 0, out: "" });
});
