// The image installs the app's production dependencies only (app/Dockerfile: npm ci --omit=dev):
// the embedded store (s3rver, with its old koa, busboy and dicer) is for local runs and tests, so
// none of it may be reachable from them. Read from package-lock.json the way npm resolves it.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

type LockPackage = { version?: string; dev?: boolean; dependencies?: Record<string, string>; optionalDependencies?: Record<string, string>; devDependencies?: Record<string, string> };
const lock = JSON.parse(readFileSync(new URL("../../../package-lock.json", import.meta.url), "utf8")) as { packages: Record<string, LockPackage> };

/** The lockfile path `name` resolves to from the package at `from` (node_modules nesting, nearest first). */
function resolve(from: string, name: string): string | undefined {
  for (let dir = from; ; ) {
    const candidate = `${dir ? `${dir}/` : ""}node_modules/${name}`;
    if (lock.packages[candidate]) return candidate;
    if (dir === "") return undefined;
    const up = dir.lastIndexOf("/node_modules/");
    dir = up === -1 ? "" : dir.slice(0, up);
  }
}

/** Every package the app's production dependencies reach. */
function productionClosure(): Set<string> {
  const seen = new Set<string>();
  const queue = ["app"];
  while (queue.length) {
    const at = queue.shift()!;
    const pkg = lock.packages[at]!;
    for (const name of Object.keys({ ...pkg.dependencies, ...pkg.optionalDependencies })) {
      const path = resolve(at, name);
      if (path === undefined || seen.has(path)) continue;
      seen.add(path);
      queue.push(path);
    }
  }
  return seen;
}

describe("what the image installs", () => {
  it("leaves out the embedded store and everything only it needs", () => {
    const closure = [...productionClosure()];
    expect(closure).toEqual(expect.arrayContaining(["node_modules/@aws-sdk/client-s3", "node_modules/hono", "node_modules/pino", "node_modules/jose"]));
    const names = closure.map((p) => p.slice(p.lastIndexOf("node_modules/") + "node_modules/".length));
    for (const local of ["s3rver", "koa", "@koa/router", "busboy", "dicer", "winston"]) expect(names, local).not.toContain(local);
    expect(lock.packages["app"]!.devDependencies).toHaveProperty("s3rver");
  });
});
