// The files Docker sends as the build context of an image, computed with Docker's
// ignore-file rules (@balena/dockerignore): the Dockerfile's own `<Dockerfile>.dockerignore`
// when there is one, else the root `.dockerignore`. Its digest names what an image is
// built from, so CI can tag images by their inputs and skip builds that would change nothing.
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
// eslint-disable-next-line @typescript-eslint/no-require-imports
const ignore = require("@balena/dockerignore") as (options?: object) => { add(patterns: string[]): any; ignores(p: string): boolean };

export const IMAGES = { app: "app/Dockerfile", nginx: "nginx/Dockerfile" } as const;
export type ImageName = keyof typeof IMAGES;

/** The ignore file Docker (BuildKit) applies to a Dockerfile in `root`. */
export function ignoreFileFor(root: string, dockerfile: string, preferDockerfileSpecific = true): string | undefined {
  const specific = path.join(root, `${dockerfile}.dockerignore`);
  if (preferDockerfileSpecific && fs.existsSync(specific)) return specific;
  const general = path.join(root, ".dockerignore");
  return fs.existsSync(general) ? general : undefined;
}

function patternsOf(file: string | undefined): string[] {
  if (!file) return [];
  return fs
    .readFileSync(file, "utf8")
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"));
}

/** Relative paths (with "/") of every file in the build context, sorted. */
export function buildContextFiles(root: string, ignoreFile: string | undefined): string[] {
  const patterns = patternsOf(ignoreFile);
  const ig = ignore().add(patterns);
  const exceptions = patterns.filter((p) => p.startsWith("!")).map((p) => p.slice(1).replace(/^\/+/, ""));
  // A directory can be skipped only if no exception could bring something inside it back.
  const mayReinclude = (dir: string) => exceptions.some((e) => /^[*?[]/.test(e) || e.startsWith(`${dir}/`));
  const files: string[] = [];
  const walk = (rel: string) => {
    for (const entry of fs.readdirSync(path.join(root, rel), { withFileTypes: true })) {
      const p = rel === "" ? entry.name : `${rel}/${entry.name}`;
      if (entry.isDirectory()) {
        if (ig.ignores(p) && !mayReinclude(p)) continue;
        walk(p);
      } else if (!ig.ignores(p)) files.push(p);
    }
  };
  walk("");
  return files.sort();
}

/** SHA-256 over the Dockerfile and every context file's path and bytes. */
export function contextDigest(root: string, dockerfile: string, ignoreFile = ignoreFileFor(root, dockerfile)): string {
  const hash = createHash("sha256");
  hash.update(`Dockerfile\0${fs.readFileSync(path.join(root, dockerfile))}\0`);
  for (const f of buildContextFiles(root, ignoreFile)) {
    hash.update(`${f}\0`);
    hash.update(fs.readFileSync(path.join(root, f)));
    hash.update("\0");
  }
  return hash.digest("hex");
}

/** Image tags by content: `ctx-` and the first 20 hex digits of the context digest. */
export function imageTags(root: string): Record<ImageName, string> {
  return Object.fromEntries(
    (Object.keys(IMAGES) as ImageName[]).map((name) => [name, `ctx-${contextDigest(root, IMAGES[name]).slice(0, 20)}`]),
  ) as Record<ImageName, string>;
}

if (require.main === module) {
  // npm run -s image-tags  ->  {"app":"ctx-...","nginx":"ctx-..."}
  process.stdout.write(`${JSON.stringify(imageTags(path.resolve(__dirname, "..")))}\n`);
}
