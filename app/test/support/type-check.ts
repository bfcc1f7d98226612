// vitest strips types without checking them: the typecheck tests run tsc on a project.
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";

const tsc = fileURLToPath(new URL("../../../node_modules/typescript/bin/tsc", import.meta.url));

/** Runs `tsc -p <project> --noEmit`; a clean project gives { code: 0, out: "" }. */
export function typeCheck(project: string | URL): Promise<{ code: number | null; out: string }> {
  const path = project instanceof URL ? fileURLToPath(project) : project;
  return new Promise((resolve) =>
    execFile(process.execPath, [tsc, "-p", path, "--noEmit"], (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr }),
    ),
  );
}
