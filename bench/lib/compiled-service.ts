// The service as it runs in production (`node --expose-gc app/dist/main.js`, see app/Dockerfile): compiled with
// tsc into a cache directory, so that a benchmark can measure it without the tsx loader's memory.
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../../", import.meta.url));
// Under node_modules so that the compiled files resolve the root's dependencies.
const outDir = join(root, "node_modules", ".cache", "stowrs-bench", "app");
let built: string | undefined;

/** Compiles app/src once per process; returns the compiled entry point. */
export function compiledServiceEntry(): string {
  if (built) return built;
  execFileSync(process.execPath, [join(root, "node_modules", "typescript", "bin", "tsc"), "-p", join(root, "app", "tsconfig.build.json"), "--outDir", outDir], {
    stdio: ["ignore", "inherit", "inherit"],
  });
  mkdirSync(outDir, { recursive: true });
  // Files under node_modules take their module type from the nearest package.json: make it ESM as in app/.
  writeFileSync(join(outDir, "package.json"), JSON.stringify({ type: "module" }));
  built = join(outDir, "main.js");
  return built;
}
