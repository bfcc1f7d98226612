// The app as its image holds it: app/src compiled with tsc (app/tsconfig.build.json) into
// <dir>/app/dist beside <dir>/app/package.json, run as the image's CMD (`node --expose-gc app/dist/main.js`) from <dir>,
// like /srv in the image. The build is reused while the app's build context is unchanged.
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { contextDigest, IMAGES } from "../build-context";

const REPO = path.resolve(__dirname, "../..");
// Under node_modules so the compiled files resolve the repository's dependencies, as
// /srv/app/dist resolves /srv/node_modules in the image.
export const BUILD_DIR = path.join(REPO, "node_modules", ".cache", "stowrs-rehearsal");

export function buildApp(log: (line: string) => void): string {
  const digest = contextDigest(REPO, IMAGES.app);
  const stamp = path.join(BUILD_DIR, "app", "dist", ".context-sha256");
  if (fs.existsSync(stamp) && fs.readFileSync(stamp, "utf8") === digest) {
    log(`app: build of this source (context ${digest.slice(0, 12)}) already in ${path.relative(REPO, BUILD_DIR)}`);
    return BUILD_DIR;
  }
  fs.rmSync(path.join(BUILD_DIR, "app"), { recursive: true, force: true });
  fs.mkdirSync(path.join(BUILD_DIR, "app"), { recursive: true });
  log("app: compiling app/src with tsc -p app/tsconfig.build.json, as app/Dockerfile does");
  execFileSync(
    process.execPath,
    [path.join(REPO, "node_modules/typescript/bin/tsc"), "-p", path.join(REPO, "app/tsconfig.build.json"), "--outDir", path.join(BUILD_DIR, "app", "dist")],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  fs.copyFileSync(path.join(REPO, "app/package.json"), path.join(BUILD_DIR, "app", "package.json"));
  fs.writeFileSync(stamp, digest);
  return BUILD_DIR;
}
