// What `docker build` would send for each image, computed with Docker's ignore-file rules.
// An image must change only when its own inputs do: nothing that changes with every commit
// or run (.git, node_modules, .data) and no tests may be in its context, and everything
// its Dockerfile copies must be.
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { buildContextFiles, contextDigest, ignoreFileFor, IMAGES, imageTags, type ImageName } from "./build-context";
import { readDockerfile } from "./dockerfile";

const REPO = path.resolve(__dirname, "..");
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "build-context-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const FORBIDDEN: [string, RegExp][] = [
  ["node_modules", /(^|\/)node_modules\//],
  [".git", /^\.git(\/|$)/],
  [".data", /^\.data\//],
  ["tests", /\.test\.[cm]?[jt]s$/],
  ["app/test", /^app\/test\//],
  ["test support", /^(app\/src\/(testing|clients|corpus|reliability)|nginx\/testing)\//],
  ["build output", /(^|\/)dist\//],
];

/** Every file a COPY source names must be in the context (directories: at least one file). */
function missingSources(files: string[], dockerfile: string): string[] {
  const sources = readDockerfile(path.join(REPO, dockerfile)).contextSources;
  return sources.filter((source) => {
    const re = new RegExp(`^${source.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, "[^/]*")}(/|$)`);
    return !files.some((f) => re.test(f));
  });
}

// Probes of what must never be in a context, present on every machine that runs this.
const probes = ["node_modules/.cache/build-context-probe", ".data/build-context-probe"];
for (const p of probes) {
  fs.mkdirSync(path.dirname(path.join(REPO, p)), { recursive: true });
  fs.writeFileSync(path.join(REPO, p), "probe");
}
afterAll(() => probes.forEach((p) => fs.rmSync(path.join(REPO, p), { force: true })));

describe.each(Object.keys(IMAGES) as ImageName[])("the %s image's build context", (image) => {
  const dockerfile = IMAGES[image];
  const variants: [string, boolean][] = [
    [`${dockerfile}.dockerignore (what BuildKit reads)`, true],
    [".dockerignore (builders without Dockerfile-specific ignore files)", false],
  ];

  it.each(variants)("under %s holds no node_modules, .git, .data, tests or build output", (_label, specific) => {
    const ignoreFile = ignoreFileFor(REPO, dockerfile, specific);
    expect(ignoreFile, "an ignore file exists").toBeDefined();
    const files = buildContextFiles(REPO, ignoreFile);
    for (const [what, pattern] of FORBIDDEN) {
      expect(files.filter((f) => pattern.test(f)), `${what} in the context`).toEqual([]);
    }
    // The walk saw the repository: the probes exist and were left out.
    for (const p of probes) expect(fs.existsSync(path.join(REPO, p))).toBe(true);
    expect(missingSources(files, dockerfile), "COPY sources missing from the context").toEqual([]);
    const bytes = files.reduce((n, f) => n + fs.statSync(path.join(REPO, f)).size, 0);
    expect(bytes, "context size").toBeLessThan(2 * 1024 * 1024);
  });

  it(`with its own ignore file holds only what ${dockerfile} copies`, () => {
    const files = buildContextFiles(REPO, ignoreFileFor(REPO, dockerfile));
    const sources = readDockerfile(path.join(REPO, dockerfile)).contextSources;
    const copied = (f: string) =>
      sources.some((s) => new RegExp(`^${s.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, "[^/]*")}(/|$)`).test(f));
    expect(files.filter((f) => !copied(f))).toEqual([]);
  });
});

describe("the app image's context", () => {
  it("is enough to compile the service as its Dockerfile does (tsc -p app/tsconfig.build.json)", () => {
    const copy = path.join(tmp, "app-context");
    for (const f of buildContextFiles(REPO, ignoreFileFor(REPO, IMAGES.app))) {
      fs.mkdirSync(path.dirname(path.join(copy, f)), { recursive: true });
      fs.copyFileSync(path.join(REPO, f), path.join(copy, f));
    }
    // The build stage installs dependencies itself; lend it the repository's.
    fs.symlinkSync(path.join(REPO, "node_modules"), path.join(copy, "node_modules"));
    execFileSync(process.execPath, [path.join(REPO, "node_modules/typescript/bin/tsc"), "-p", "app/tsconfig.build.json", "--outDir", path.join(tmp, "dist")], {
      cwd: copy,
      stdio: "pipe",
    });
    expect(fs.existsSync(path.join(tmp, "dist", "main.js"))).toBe(true);
  });
});

describe("context digests (image tags by content)", () => {
  function fixture(): string {
    const root = fs.mkdtempSync(path.join(tmp, "fixture-"));
    const write = (f: string, text: string) => {
      fs.mkdirSync(path.dirname(path.join(root, f)), { recursive: true });
      fs.writeFileSync(path.join(root, f), text);
    };
    write("img/Dockerfile", "FROM scratch\nCOPY img/src img/src\n");
    write("img/Dockerfile.dockerignore", "*\n!img/src\n**/*.test.ts\n");
    write("img/src/main.ts", "export {};\n");
    write("img/src/main.test.ts", "test\n");
    write("other/file.txt", "x\n");
    return root;
  }

  it("change with the files an image copies and with its Dockerfile, and with nothing else", () => {
    const root = fixture();
    const before = contextDigest(root, "img/Dockerfile");
    fs.writeFileSync(path.join(root, "other/file.txt"), "changed\n");
    fs.writeFileSync(path.join(root, "img/src/main.test.ts"), "changed\n");
    fs.mkdirSync(path.join(root, ".git"));
    fs.writeFileSync(path.join(root, ".git/HEAD"), "ref\n");
    expect(contextDigest(root, "img/Dockerfile")).toBe(before);
    fs.writeFileSync(path.join(root, "img/src/main.ts"), "export const x = 1;\n");
    const afterSource = contextDigest(root, "img/Dockerfile");
    expect(afterSource).not.toBe(before);
    fs.appendFileSync(path.join(root, "img/Dockerfile"), "ENV X=1\n");
    expect(contextDigest(root, "img/Dockerfile")).not.toBe(afterSource);
  });

  it("give one tag per image", () => {
    const tags = imageTags(REPO);
    expect(Object.keys(tags)).toEqual(["app", "nginx"]);
    for (const tag of Object.values(tags)) expect(tag).toMatch(/^ctx-[0-9a-f]{20}$/);
    expect(tags.app).not.toBe(tags.nginx);
  });
});
