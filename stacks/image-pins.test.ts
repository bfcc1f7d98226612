// Base-image pins: the Dockerfiles CI builds name every base by tag and digest, and
// `npm run image-pins -- --update` moves them. The update cannot reach a registry here (no
// internet), so it runs against a registry stand-in on 127.0.0.1 that speaks the part of the
// registry API the command uses: HEAD on a manifest, 401 with a bearer challenge, the token.
import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { IMAGES } from "./build-context";
import { disagreements, findPins, main, parseChallenge, parseReference, resolveDigest, rewrite } from "./image-pins";

const REPO = path.resolve(__dirname, "..");
const A = `sha256:${"a".repeat(64)}`;
const B = `sha256:${"b".repeat(64)}`;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "image-pins-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe("the Dockerfiles CI builds", () => {
  it.each(Object.values(IMAGES))("%s pins every base image by digest with its tag beside it", (file) => {
    const { pins, problems } = findPins(file, fs.readFileSync(path.join(REPO, file), "utf8"));
    expect(problems).toEqual([]);
    expect(pins.length).toBeGreaterThan(0);
    for (const p of pins) {
      expect(p.tag, `${file}:${p.line}`).toBeTruthy();
      expect(p.digest, `${file}:${p.line}`).toMatch(/^sha256:[0-9a-f]{64}$/);
    }
  });

  it("pin each image:tag to one digest across both files, and say where the pin came from", () => {
    const pins = Object.values(IMAGES).flatMap((f) => findPins(f, fs.readFileSync(path.join(REPO, f), "utf8")).pins);
    expect(disagreements(pins)).toEqual([]);
    for (const f of Object.values(IMAGES)) expect(fs.readFileSync(path.join(REPO, f), "utf8"), f).toMatch(/^# pinned: .*npm run image-pins -- --update|^# pinned: .*the command above/m);
  });
});

describe("findPins", () => {
  it("takes image FROM lines (platform flag, stage name, any case), skips stages and scratch, and names what is wrong", () => {
    const text = [
      `FROM --platform=$BUILDPLATFORM node:22-bookworm-slim@${A} AS build`,
      "from build as test",
      "FROM node:22-bookworm-slim",
      `FROM nginx@${B}`,
      "FROM scratch",
      "FROM ghcr.io/owner/tool:1.2@sha256:short",
      "ARG BASE=node:22",
      "FROM ${BASE}",
      `FROM build`,
    ].join("\n");
    const { pins, problems } = findPins("x/Dockerfile", text);
    expect(pins.map((p) => [p.line, p.name, p.tag, p.digest])).toEqual([
      [1, "node", "22-bookworm-slim", A],
      [3, "node", "22-bookworm-slim", undefined],
      [4, "nginx", undefined, B],
      [6, "ghcr.io/owner/tool", "1.2", "sha256:short"],
    ]);
    expect(problems).toEqual([
      "x/Dockerfile:3: FROM node:22-bookworm-slim is not pinned by digest; run npm run image-pins -- --update",
      `x/Dockerfile:4: FROM nginx@${B} has no tag beside its digest; write it as nginx:<tag>@sha256:...`,
      'x/Dockerfile:6: FROM ghcr.io/owner/tool:1.2@sha256:short: "sha256:short" is not a sha256 digest',
      "x/Dockerfile:8: FROM ${BASE} takes its image from a build argument, which no pin can hold; write the image and its digest there",
    ]);
  });

  it("finds one image:tag pinned to two digests", () => {
    const pins = [...findPins("a", `FROM node:22@${A}`).pins, ...findPins("b", `FROM node:22@${B}`).pins, ...findPins("c", `FROM nginx:1@${B}`).pins];
    expect(disagreements(pins)).toEqual([`node:22 is pinned to different digests: a:1 ${A}, b:1 ${B}`]);
  });
});

describe("parseReference", () => {
  it.each([
    ["node:22-bookworm-slim", { registry: "docker.io", repository: "library/node", tag: "22-bookworm-slim" }],
    [`bitnami/nginx:1.28@${A}`, { registry: "docker.io", repository: "bitnami/nginx", tag: "1.28", digest: A }],
    ["localhost:5000/x/y:z", { registry: "localhost:5000", repository: "x/y", tag: "z" }],
    [`public.ecr.aws/docker/library/node@${A}`, { registry: "public.ecr.aws", repository: "docker/library/node", tag: undefined, digest: A }],
  ])("%s", (ref, expected) => {
    expect(parseReference(ref)).toMatchObject(expected);
  });
});

describe("rewrite", () => {
  const before = [
    "# comment kept",
    "# pinned: by hand",
    `FROM --platform=linux/amd64 node:22-bookworm-slim@${A} AS build`,
    "RUN echo FROM node:22-bookworm-slim",
    "FROM node:22-bookworm-slim",
    "FROM build AS final",
    "FROM nginx:1.28 AS other",
    "",
  ].join("\n");

  it("moves every FROM of the image:tag to the new digest, keeps everything else, and says where the pin came from", () => {
    const after = rewrite(before, new Map([["node:22-bookworm-slim", B]]), "resolved on 2030-01-01");
    expect(after.split("\n")).toEqual([
      "# comment kept",
      "# pinned: resolved on 2030-01-01",
      `FROM --platform=linux/amd64 node:22-bookworm-slim@${B} AS build`,
      "RUN echo FROM node:22-bookworm-slim",
      `FROM node:22-bookworm-slim@${B}`,
      "FROM build AS final",
      "FROM nginx:1.28 AS other",
      "",
    ]);
  });

  it("leaves a file whose pins did not move byte for byte as it was (its image tag stays, nothing is rebuilt)", () => {
    const pinned = rewrite(before, new Map([["node:22-bookworm-slim", A]]), "first");
    expect(rewrite(pinned, new Map([["node:22-bookworm-slim", A]]), "second")).toBe(pinned);
  });
});

describe("parseChallenge", () => {
  it("reads a bearer challenge and ignores other schemes", () => {
    expect(parseChallenge('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/node:pull"')).toEqual({
      realm: "https://auth.docker.io/token",
      service: "registry.docker.io",
      scope: "repository:library/node:pull",
    });
    expect(parseChallenge('Basic realm="x"')).toBeUndefined();
  });
});

/** A registry stand-in: anonymous tokens for pulls, manifests by tag, and a log of what it was asked. */
function fakeRegistry(manifests: Record<string, { digest?: string; type: string }>) {
  const seen: { method: string; url: string; accept?: string; authorization?: string }[] = [];
  const server = http.createServer((req, res) => {
    seen.push({ method: req.method!, url: req.url!, accept: req.headers.accept, authorization: req.headers.authorization });
    const url = new URL(req.url!, "http://x");
    if (url.pathname === "/token") {
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ token: `t-${url.searchParams.get("scope")}` }));
      return;
    }
    const m = /^\/v2\/(.+)\/manifests\/(.+)$/.exec(url.pathname);
    const repository = m?.[1];
    if (req.headers.authorization !== `Bearer t-repository:${repository}:pull`) {
      const { port } = server.address() as AddressInfo;
      res
        .writeHead(401, { "www-authenticate": `Bearer realm="http://127.0.0.1:${port}/token",service="fake",scope="repository:${repository}:pull"` })
        .end();
      return;
    }
    const found = manifests[`${repository}:${decodeURIComponent(m![2])}`];
    if (!found) return void res.writeHead(404).end();
    res.writeHead(200, { "content-type": found.type, ...(found.digest ? { "docker-content-digest": found.digest } : {}) }).end();
  });
  return { server, seen };
}

describe("npm run image-pins -- --update (against a registry stand-in on 127.0.0.1)", () => {
  const { server, seen } = fakeRegistry({
    "library/node:22-bookworm-slim": { digest: B, type: "application/vnd.oci.image.index.v1+json" },
    "library/node:single": { digest: A, type: "application/vnd.docker.distribution.manifest.v2+json" },
    "library/node:nodigest": { type: "application/vnd.oci.image.index.v1+json" },
  });
  let base = "";
  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const options = () => ({ baseUrl: () => base, today: "2030-01-01" });

  it("gets an anonymous token for the repository, then asks for the tag's manifest, index types first", async () => {
    seen.length = 0;
    await expect(resolveDigest("node:22-bookworm-slim", options())).resolves.toEqual({ digest: B, mediaType: "application/vnd.oci.image.index.v1+json", index: true });
    expect(seen.map((s) => `${s.method} ${s.url}`)).toEqual([
      "HEAD /v2/library/node/manifests/22-bookworm-slim",
      "GET /token?service=fake&scope=repository%3Alibrary%2Fnode%3Apull",
      "HEAD /v2/library/node/manifests/22-bookworm-slim",
    ]);
    expect(seen[2].accept).toMatch(/^application\/vnd\.oci\.image\.index\.v1\+json, application\/vnd\.docker\.distribution\.manifest\.list\.v2\+json/);
    expect(seen[2].authorization).toBe("Bearer t-repository:library/node:pull");
  });

  it("says which reference failed and why: unknown tag, no digest in the answer", async () => {
    await expect(resolveDigest("node:nope", options())).rejects.toThrow("node:nope: docker.io answered HTTP 404 for library/node:nope");
    await expect(resolveDigest("node:nodigest", options())).rejects.toThrow(/node:nodigest: docker.io gave no sha256 digest/);
    // A registry that cannot be reached (a port nobody listens on: this one, once closed).
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    await expect(resolveDigest("node:22", { baseUrl: () => `http://127.0.0.1:${port}` })).rejects.toThrow(`node:22: cannot reach 127.0.0.1:${port} (ECONNREFUSED)`);
  });

  function project(files: Record<string, string>): string {
    const dir = fs.mkdtempSync(path.join(tmp, "project-"));
    for (const [f, text] of Object.entries(files)) {
      fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
      fs.writeFileSync(path.join(dir, f), text);
    }
    return dir;
  }

  it("rewrites each Dockerfile's FROM lines to the registry's digest and its provenance line, and lists the pins after", async () => {
    const dir = project({
      "a/Dockerfile": `# pinned: by hand\nFROM node:22-bookworm-slim@${A} AS build\nFROM build\n`,
      "b/Dockerfile": "FROM node:22-bookworm-slim\n",
    });
    const files = ["a/Dockerfile", "b/Dockerfile"];
    const result = await main(["--update"], dir, { ...options(), files });
    expect(result.stderr).toBe("");
    expect(result).toMatchObject({ code: 0, stdout: `node:22-bookworm-slim -> ${B}\na/Dockerfile: rewritten\nb/Dockerfile: rewritten\n` });
    expect(fs.readFileSync(path.join(dir, "a/Dockerfile"), "utf8")).toBe(
      `# pinned: resolved from the registry on 2030-01-01 by npm run image-pins -- --update\nFROM node:22-bookworm-slim@${B} AS build\nFROM build\n`,
    );
    expect(fs.readFileSync(path.join(dir, "b/Dockerfile"), "utf8")).toBe(`FROM node:22-bookworm-slim@${B}\n`);
    expect(await main([], dir, { files })).toEqual({ code: 0, stdout: `a/Dockerfile:2  node:22-bookworm-slim@${B}\nb/Dockerfile:1  node:22-bookworm-slim@${B}\n`, stderr: "" });
  });

  it("moves no pin when any image fails to resolve, and warns about a single-platform manifest", async () => {
    const text = `FROM node:single\nFROM node:nope\n`;
    const dir = project({ "Dockerfile": text });
    const result = await main(["--update"], dir, { ...options(), files: ["Dockerfile"] });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("warning: node:single names a single-platform manifest");
    expect(result.stderr).toContain("node:nope: docker.io answered HTTP 404");
    expect(result.stderr).toContain("nothing rewritten");
    expect(fs.readFileSync(path.join(dir, "Dockerfile"), "utf8")).toBe(text);
  });

  it("without --update, fails listing every FROM that is not pinned; refuses unknown arguments", async () => {
    const dir = project({ "Dockerfile": "FROM node:22\n" });
    const result = await main([], dir, { files: ["Dockerfile"] });
    expect(result).toEqual({ code: 1, stdout: "Dockerfile:1  node:22@(no digest)\n", stderr: "Dockerfile:1: FROM node:22 is not pinned by digest; run npm run image-pins -- --update\n" });
    expect(await main(["--updte"], dir)).toMatchObject({ code: 2, stderr: expect.stringContaining("unknown argument --updte") });
  });
});
