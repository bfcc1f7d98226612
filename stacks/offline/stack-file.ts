// Reads Pulumi.<stack>.yaml the way the Pulumi CLI hands config to a program: a flat
// map of "namespace:key" to text, structured values as JSON text.
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";

export interface StackFile {
  stack: string;
  file: string;
  project: string;
  /** Directory of Pulumi.yaml, where `pulumi` runs the program (relative paths in config start here). */
  projectDir: string;
  config: Record<string, string>;
}

export class StackFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StackFileError";
  }
}

/** The nearest directory at or above `start` holding Pulumi.yaml. */
export function findProjectDir(start: string): string | undefined {
  let dir = path.resolve(start);
  for (;;) {
    if (fs.existsSync(path.join(dir, "Pulumi.yaml"))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/** Stack names with a Pulumi.<stack>.yaml in the project directory. */
export function listStacks(projectDir: string): string[] {
  return fs
    .readdirSync(projectDir)
    .map((f) => /^Pulumi\.(.+)\.ya?ml$/.exec(f)?.[1])
    .filter((s): s is string => s !== undefined)
    .sort();
}

/**
 * `target` is a stack name (looked up beside Pulumi.yaml) or a path to a
 * Pulumi.<stack>.yaml file anywhere.
 */
export function readStackFile(target: string, cwd: string): StackFile {
  const isPath = /[\\/]/.test(target) || /\.ya?ml$/.test(target);
  let file: string;
  let stack: string;
  let projectDir: string | undefined;
  if (isPath) {
    file = path.resolve(cwd, target);
    const m = /^Pulumi\.(.+)\.ya?ml$/.exec(path.basename(file));
    if (!m) throw new StackFileError(`${target}: a stack file must be named Pulumi.<stack>.yaml`);
    stack = m[1];
    projectDir = findProjectDir(path.dirname(file)) ?? findProjectDir(cwd);
  } else {
    stack = target;
    projectDir = findProjectDir(cwd);
    if (!projectDir) throw new StackFileError(`no Pulumi.yaml found in ${cwd} or above`);
    file = ["yaml", "yml"].map((ext) => path.join(projectDir!, `Pulumi.${stack}.${ext}`)).find((f) => fs.existsSync(f)) ?? "";
    if (file === "") {
      const known = listStacks(projectDir);
      throw new StackFileError(
        `no stack file Pulumi.${stack}.yaml in ${projectDir}` + (known.length ? ` (stacks there: ${known.join(", ")})` : ""),
      );
    }
  }
  if (!fs.existsSync(file)) throw new StackFileError(`${file}: no such file`);

  const projectDoc = projectDir ? readYaml(path.join(projectDir, "Pulumi.yaml")) : {};
  const project = typeof projectDoc.name === "string" ? projectDoc.name : "stowrs-to-s3";
  const stackDoc = readYaml(file);

  const config: Record<string, string> = {};
  // Project-level defaults first (Pulumi.yaml `config:`), then the stack file overrides.
  for (const [key, entry] of Object.entries(asRecord(projectDoc.config))) {
    const value = entry !== null && typeof entry === "object" && !Array.isArray(entry) ? (entry as any).value ?? (entry as any).default : entry;
    if (value !== undefined) config[qualify(key, project)] = toConfigText(qualify(key, project), value, file);
  }
  for (const [key, value] of Object.entries(asRecord(stackDoc.config))) {
    config[qualify(key, project)] = toConfigText(qualify(key, project), value, file);
  }
  return { stack, file, project, projectDir: projectDir ?? path.dirname(file), config };
}

function readYaml(file: string): Record<string, unknown> {
  let doc: unknown;
  try {
    doc = parse(fs.readFileSync(file, "utf8"));
  } catch (err) {
    throw new StackFileError(`${file}: not valid YAML: ${(err as Error).message}`);
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== "object" || Array.isArray(doc)) throw new StackFileError(`${file}: expected a YAML mapping`);
  return doc as Record<string, unknown>;
}

function asRecord(value: unknown): Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

/** Unqualified keys belong to the project's namespace, as in the Pulumi CLI. */
function qualify(key: string, project: string): string {
  return key.includes(":") ? key : `${project}:${key}`;
}

function toConfigText(key: string, value: unknown, file: string): string {
  if (typeof value === "string") return value;
  if (value !== null && typeof value === "object" && !Array.isArray(value) && "secure" in value) {
    throw new StackFileError(`${key}: is a secret in ${path.basename(file)}; the offline plan cannot decrypt it`);
  }
  if (typeof value === "object" && value !== null) return JSON.stringify(value);
  return String(value);
}
