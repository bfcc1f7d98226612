import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { expect, it } from "vitest";

// vitest strips types without checking them; the production build must still type-check.
it("type-checks the service code (what app/Dockerfile builds)", async () => {
  const project = fileURLToPath(new URL("../tsconfig.build.json", import.meta.url));
  const tsc = fileURLToPath(new URL("../../node_modules/typescript/bin/tsc", import.meta.url));
  const result = await new Promise<{ code: number | null; out: string }>((resolve) =>
    execFile(process.execPath, [tsc, "-p", project, "--noEmit"], (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr }),
    ),
  );
  expect(result.out).toBe("");
  expect(result.code).toBe(0);
});
