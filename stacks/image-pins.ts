// Base images of the Dockerfiles, pinned by digest with their tag beside it
// (`FROM node:22-bookworm-slim@sha256:<64 hex> AS build`): a rebuild starts from the same bytes
// until someone moves the pin on purpose, and the tag says what the digest is meant to be.
//
//   npm run image-pins                 lists the pins; fails on a FROM without digest or tag
//   npm run image-pins -- --update     asks each image's registry for the tag's current digest
//                                      and rewrites every FROM of that image:tag
//
// The digest asked for is the one the registry answers for the tag itself: for official
// images that is the multi-arch index (amd64 and arm64 builds share one pin); a tag that
// names a single-platform manifest is pinned too, with a warning. Only the registry's HTTP API
// is used (anonymous bearer tokens, as `docker pull` gets them), so no Docker daemon is needed.
import * as fs from "node:fs";
import * as path from "node:path";
import { IMAGES } from "./build-context";

const USAGE = "usage: npm run image-pins [-- --update]";
const DIGEST = /^sha256:[0-9a-f]{64}$/;
/** The line `--update` rewrites to say where the pins now come from. */
const PROVENANCE = /^# pinned: .*$/m;

/** Media types a registry may answer for a tag; the index types first, so a registry that has one sends it. */
const ACCEPT = [
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.docker.distribution.manifest.v2+json",
].join(", ");
const INDEX_TYPES = new Set(ACCEPT.split(", ").slice(0, 2));

export interface ImageReference {
  /** Registry host as written (docker.io when the reference names none). */
  registry: string;
  /** Repository path in the registry (Docker Hub's official images under library/). */
  repository: string;
  tag?: string;
  digest?: string;
}

/** One FROM line that names an image (not an earlier stage, not scratch). */
export interface Pin {
  file: string;
  /** 1-based line number. */
  line: number;
  /** The reference as written, without tag and digest (`node`, `ghcr.io/o/x`). */
  name: string;
  tag?: string;
  digest?: string;
}

/** Splits `[registry/]repository[:tag][@digest]` the way Docker reads it. */
export function parseReference(ref: string): ImageReference & { name: string } {
  const at = ref.indexOf("@");
  const digest = at >= 0 ? ref.slice(at + 1) : undefined;
  let rest = at >= 0 ? ref.slice(0, at) : ref;
  const colon = rest.lastIndexOf(":");
  let tag: string | undefined;
  if (colon > rest.lastIndexOf("/")) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
  }
  const first = rest.split("/")[0];
  // The first component is a registry when it looks like a host (a dot, a port, or localhost).
  const hasRegistry = rest.includes("/") && (/[.:]/.test(first) || first === "localhost");
  const registry = hasRegistry ? first : "docker.io";
  let repository = hasRegistry ? rest.slice(first.length + 1) : rest;
  if (registry === "docker.io" && !repository.includes("/")) repository = `library/${repository}`;
  return { name: rest, registry, repository, tag, digest };
}

/** The image FROM lines of one Dockerfile, and what is wrong with their pins. */
export function findPins(file: string, text: string): { pins: Pin[]; problems: string[] } {
  const pins: Pin[] = [];
  const problems: string[] = [];
  const stages = new Set<string>();
  text.split(/\r?\n/).forEach((raw, i) => {
    const m = /^\s*FROM\s+(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?\s*$/i.exec(raw);
    if (!m) return;
    const [, ref, stage] = m;
    const where = `${file}:${i + 1}`;
    const fromStage = ref.toLowerCase() === "scratch" || stages.has(ref.toLowerCase());
    if (stage) stages.add(stage.toLowerCase());
    if (fromStage) return;
    if (ref.includes("$")) {
      problems.push(`${where}: FROM ${ref} takes its image from a build argument, which no pin can hold; write the image and its digest there`);
      return;
    }
    const { name, tag, digest } = parseReference(ref);
    pins.push({ file, line: i + 1, name, tag, digest });
    if (!tag) problems.push(`${where}: FROM ${ref} has no tag beside its digest; write it as ${name}:<tag>@sha256:...`);
    if (!digest) problems.push(`${where}: FROM ${ref} is not pinned by digest; run npm run image-pins -- --update`);
    else if (!DIGEST.test(digest)) problems.push(`${where}: FROM ${ref}: "${digest}" is not a sha256 digest`);
  });
  return { pins, problems };
}

/** Pins of one image:tag that disagree across files (each build would start from another base). */
export function disagreements(pins: Pin[]): string[] {
  const byTag = new Map<string, Pin[]>();
  for (const p of pins.filter((p) => p.tag && p.digest)) {
    const key = `${p.name}:${p.tag}`;
    byTag.set(key, [...(byTag.get(key) ?? []), p]);
  }
  return [...byTag].flatMap(([key, list]) =>
    new Set(list.map((p) => p.digest)).size > 1 ? [`${key} is pinned to different digests: ${list.map((p) => `${p.file}:${p.line} ${p.digest}`).join(", ")}`] : [],
  );
}

/**
 * `text` with each FROM of an image:tag in `digests` pinned to that digest (everything else on
 * the line, and every other line, kept as it was) and, when a pin moved, the `# pinned:` line
 * set to `provenance`. Unchanged pins leave the file byte for byte as it was: the image's
 * content tag (npm run image-tags) then stays the same and nothing is rebuilt.
 */
export function rewrite(text: string, digests: Map<string, string>, provenance: string): string {
  let moved = false;
  const lines = text.split("\n").map((raw) => {
    const m = /^(\s*FROM\s+(?:--platform=\S+\s+)?)(\S+)(.*)$/i.exec(raw);
    if (!m) return raw;
    const { name, tag } = parseReference(m[2]);
    const digest = tag ? digests.get(`${name}:${tag}`) : undefined;
    const line = digest ? `${m[1]}${name}:${tag}@${digest}${m[3]}` : raw;
    moved ||= line !== raw;
    return line;
  });
  return moved ? lines.join("\n").replace(PROVENANCE, `# pinned: ${provenance}`) : text;
}

export interface Resolved {
  digest: string;
  mediaType: string;
  /** True for a multi-arch index (manifest list); false for a single-platform manifest. */
  index: boolean;
}

export interface ResolveOptions {
  fetch?: typeof fetch;
  /** Base URL of a registry host (tests point it at a local server). */
  baseUrl?: (registry: string) => string;
}

function registryBase(registry: string): string {
  return registry === "docker.io" ? "https://registry-1.docker.io" : `https://${registry}`;
}

/** Parses `Bearer realm="...",service="...",scope="..."`. */
export function parseChallenge(header: string): Record<string, string> | undefined {
  if (!/^Bearer\s/i.test(header)) return undefined;
  const params: Record<string, string> = {};
  for (const m of header.slice(7).matchAll(/([A-Za-z]+)="([^"]*)"/g)) params[m[1].toLowerCase()] = m[2];
  return params.realm ? params : undefined;
}

/** Asks the registry which digest the tag names now (HEAD on the manifest; an anonymous token when asked for one). */
export async function resolveDigest(ref: string, options: ResolveOptions = {}): Promise<Resolved> {
  const { registry, repository, tag } = parseReference(ref);
  // A network failure names the reference and the host, not just "fetch failed".
  const doFetch: typeof fetch = async (input, init) => {
    try {
      return await (options.fetch ?? fetch)(input, init);
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new Error(`${ref}: cannot reach ${new URL(String(input)).host} (${cause?.code ?? cause?.message ?? (err as Error).message})`);
    }
  };
  if (!tag) throw new Error(`${ref}: no tag to resolve`);
  const url = `${(options.baseUrl ?? registryBase)(registry)}/v2/${repository}/manifests/${encodeURIComponent(tag)}`;
  const head = (authorization?: string) =>
    doFetch(url, { method: "HEAD", headers: { Accept: ACCEPT, ...(authorization ? { Authorization: authorization } : {}) }, signal: AbortSignal.timeout(30_000) });

  let res = await head();
  if (res.status === 401) {
    const challenge = parseChallenge(res.headers.get("www-authenticate") ?? "");
    if (!challenge) throw new Error(`${ref}: ${registry} wants credentials this command does not have (HTTP 401 without a bearer challenge)`);
    const tokenUrl = new URL(challenge.realm);
    if (challenge.service) tokenUrl.searchParams.set("service", challenge.service);
    tokenUrl.searchParams.set("scope", challenge.scope ?? `repository:${repository}:pull`);
    const tokenRes = await doFetch(tokenUrl, { signal: AbortSignal.timeout(30_000) });
    if (!tokenRes.ok) throw new Error(`${ref}: ${tokenUrl.origin} refused an anonymous pull token (HTTP ${tokenRes.status})`);
    const body = (await tokenRes.json()) as { token?: string; access_token?: string };
    const token = body.token ?? body.access_token;
    if (!token) throw new Error(`${ref}: ${tokenUrl.origin} answered without a token`);
    res = await head(`Bearer ${token}`);
  }
  if (!res.ok) throw new Error(`${ref}: ${registry} answered HTTP ${res.status} for ${repository}:${tag}`);
  const digest = res.headers.get("docker-content-digest") ?? "";
  if (!DIGEST.test(digest)) throw new Error(`${ref}: ${registry} gave no sha256 digest for the tag (Docker-Content-Digest: "${digest}")`);
  const mediaType = (res.headers.get("content-type") ?? "").split(";")[0].trim();
  return { digest, mediaType, index: INDEX_TYPES.has(mediaType) };
}

export interface MainOptions extends ResolveOptions {
  /** Dockerfiles relative to `root`; default: the images CI builds. */
  files?: string[];
  /** Today's date for the provenance line (tests fix it). */
  today?: string;
}

export async function main(argv: string[], root: string, options: MainOptions = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const unknown = argv.filter((a) => a !== "--update");
  if (unknown.length > 0) return { code: 2, stdout: "", stderr: `${unknown.map((a) => `unknown argument ${a}\n`).join("")}${USAGE}\n` };
  const update = argv.includes("--update");
  const files = options.files ?? Object.values(IMAGES);
  const texts = new Map(files.map((f) => [f, fs.readFileSync(path.join(root, f), "utf8")]));
  const found = files.map((f) => findPins(f, texts.get(f)!));
  const pins = found.flatMap((r) => r.pins);
  const out: string[] = [];
  const err: string[] = [];

  if (!update) {
    for (const p of pins) out.push(`${p.file}:${p.line}  ${p.name}:${p.tag ?? "(no tag)"}@${p.digest ?? "(no digest)"}`);
    const problems = [...found.flatMap((r) => r.problems), ...disagreements(pins)];
    err.push(...problems);
    return { code: problems.length ? 1 : 0, stdout: lines(out), stderr: lines(err) };
  }

  const untagged = pins.filter((p) => !p.tag);
  if (untagged.length > 0) {
    return { code: 1, stdout: "", stderr: lines(untagged.map((p) => `${p.file}:${p.line}: FROM ${p.name} has no tag; write the tag to follow, then run this again`)) };
  }
  const digests = new Map<string, string>();
  for (const key of new Set(pins.map((p) => `${p.name}:${p.tag}`))) {
    try {
      const r = await resolveDigest(key, options);
      digests.set(key, r.digest);
      out.push(`${key} -> ${r.digest}${r.index ? "" : ` (${r.mediaType || "unknown type"}: a single-platform manifest, not a multi-arch index)`}`);
      if (!r.index) err.push(`warning: ${key} names a single-platform manifest; other platforms cannot build from this pin`);
    } catch (e) {
      err.push((e as Error).message);
    }
  }
  if (digests.size < new Set(pins.map((p) => `${p.name}:${p.tag}`)).size) {
    err.push("nothing rewritten: every image must resolve before any pin moves");
    return { code: 1, stdout: lines(out), stderr: lines(err) };
  }
  const today = options.today ?? new Date().toISOString().slice(0, 10);
  for (const f of files) {
    const before = texts.get(f)!;
    const after = rewrite(before, digests, `resolved from the registry on ${today} by npm run image-pins -- --update`);
    if (after !== before) fs.writeFileSync(path.join(root, f), after);
    out.push(`${f}: ${after === before ? "unchanged" : "rewritten"}`);
  }
  return { code: 0, stdout: lines(out), stderr: lines(err) };
}

function lines(list: string[]): string {
  return list.map((l) => `${l}\n`).join("");
}

if (require.main === module) {
  main(process.argv.slice(2), path.resolve(__dirname, "..")).then(({ code, stdout, stderr }) => {
    process.stdout.write(stdout);
    process.stderr.write(stderr);
    process.exitCode = code;
  });
}
