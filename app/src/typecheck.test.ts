import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { expect, it } from "vitest";

// vitest strips types without checking them: type-check with tsc.
const tsc = fileURLToPath(new URL("../../node_modules/typescript/bin/tsc", import.meta.url));

function check(project: string): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) =>
    execFile(process.execPath, [tsc, "-p", fileURLToPath(new URL(project, import.meta.url)), "--noEmit"], (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr }),
    ),
  );
}

it("type-checks the service code (what app/Dockerfile builds)", async () => {
  expect(await check("../tsconfig.build.json")).toEqual({ code: 0, out: "" });
});

it("type-checks the unit tests beside the code and everything under app/test", async () => {
  expect(await check("../tsconfig.json")).toEqual({ code: 0, out: "" });
});

it("type-checks the benchmarks, which build on app/test/support", async () => {
  expect(await check("../../bench/tsconfig.json")).toEqual({ code: 0, out: "" });
});
