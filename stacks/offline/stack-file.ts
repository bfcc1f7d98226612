// Reads Pulumi.<stack>.yaml the way the Pulumi CLI hands config to a program: a flat
// map of "namespace:key" to text, structured values as JSON text. Values stored encrypted
// (`secure:` leaves) stay encrypted: the map holds OPAQUE_SECRET in their place, and the
// file's secrets are listed with their ciphertext for the one tool that may decrypt them
// (the rehearsal, offline/pulumi-secrets.ts).
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { OPAQUE_SECRET } from "../config/secrets";
import { stackNames, stackOfFileName } from "./stack-names";

export interface StackFile {
  stack: string;
  file: string;
  project: string;
  /** Directory of Pulumi.yaml, where `pulumi` runs the program (relative paths in config start here). */
  projectDir: string;
  config: Record<string, string>;
  /** Top-level keys holding a secret anywhere in their value (what the engine tells the program). */
  secretKeys: string[];
  /** Each secret's path, `stowrs-to-s3:certificate.serverKey` (Pulumi's --path syntax). */
  secretPaths: string[];
  secrets: StackSecret[];
  /** The passphrase provider's `encryptionsalt` (v1:<salt>:<verifier>); absent with other secrets providers. */
  encryptionSalt?: string;
  /** `secretsprovider` when the file names one (a KMS or Vault URL); absent for Pulumi Cloud and the passphrase. */
  secretsProvider?: string;
  /** Every config value as the file holds it (secure leaves included), by qualified key. */
  values: Record<string, unknown>;
}

export interface StackSecret {
  /** `stowrs-to-s3:certificate.serverKey`, or `stowrs-to-s3:appName` for a top-level one. */
  path: string;
  /** The qualified top-level key. */
  key: string;
  /** Where in the key's value the leaf sits ([] for a top-level secret). */
  within: (string | number)[];
  ciphertext: string;
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
  return stackNames(projectDir);
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
    const name = stackOfFileName(path.basename(file));
    if (!name) throw new StackFileError(`${target}: a stack file must be named Pulumi.<stack>.yaml`);
    stack = name;
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

  const values: Record<string, unknown> = {};
  // Project-level defaults first (Pulumi.yaml `config:`), then the stack file overrides.
  for (const [key, entry] of Object.entries(asRecord(projectDoc.config))) {
    const value = entry !== null && typeof entry === "object" && !Array.isArray(entry) ? (entry as any).value ?? (entry as any).default : entry;
    if (value !== undefined) values[qualify(key, project)] = value;
  }
  for (const [key, value] of Object.entries(asRecord(stackDoc.config))) values[qualify(key, project)] = value;

  const secrets: StackSecret[] = [];
  for (const [key, value] of Object.entries(values)) findSecrets(key, value, [], secrets);
  const text = (v: unknown) => (typeof v === "string" ? v : undefined);
  const parsed: StackFile = {
    stack,
    file,
    project,
    projectDir: projectDir ?? path.dirname(file),
    config: {},
    secretKeys: [...new Set(secrets.map((s) => s.key))].sort(),
    secretPaths: secrets.map((s) => s.path),
    secrets,
    ...(text(stackDoc.encryptionsalt) ? { encryptionSalt: text(stackDoc.encryptionsalt) } : {}),
    ...(text(stackDoc.secretsprovider) ? { secretsProvider: text(stackDoc.secretsprovider) } : {}),
    values,
  };
  parsed.config = stackConfigMap(parsed);
  return parsed;
}

/**
 * The flat config map of a stack file, each secret given by `reveal` (default: OPAQUE_SECRET,
 * as every offline tool but the rehearsal sees it).
 */
export function stackConfigMap(file: Pick<StackFile, "values">, reveal: (secret: StackSecret) => string = () => OPAQUE_SECRET): Record<string, string> {
  const config: Record<string, string> = {};
  for (const [key, value] of Object.entries(file.values)) {
    config[key] = toConfigText(replaceSecrets(key, value, [], reveal));
  }
  return config;
}

function isSecure(value: unknown): value is { secure: string } {
  return value !== null && typeof value === "object" && !Array.isArray(value) && Object.keys(value).length === 1 && typeof (value as any).secure === "string";
}

function pathText(key: string, within: (string | number)[]): string {
  return within.reduce<string>((p, part) => (typeof part === "number" ? `${p}[${part}]` : `${p}.${part}`), key);
}

function findSecrets(key: string, value: unknown, within: (string | number)[], found: StackSecret[]): void {
  if (isSecure(value)) {
    found.push({ path: pathText(key, within), key, within, ciphertext: value.secure });
  } else if (Array.isArray(value)) {
    value.forEach((v, i) => findSecrets(key, v, [...within, i], found));
  } else if (value !== null && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) findSecrets(key, v, [...within, k], found);
  }
}

function replaceSecrets(key: string, value: unknown, within: (string | number)[], reveal: (secret: StackSecret) => string): unknown {
  if (isSecure(value)) return reveal({ path: pathText(key, within), key, within, ciphertext: value.secure });
  if (Array.isArray(value)) return value.map((v, i) => replaceSecrets(key, v, [...within, i], reveal));
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, replaceSecrets(key, v, [...within, k], reveal)]));
  }
  return value;
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

function toConfigText(value: unknown): string {
  if (typeof value === "string") return value;
  if (typeof value === "object" && value !== null) return JSON.stringify(value);
  return String(value);
}
