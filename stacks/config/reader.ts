// What every config block shares: the namespace, the options of a parse, the error that
// lists every problem at once, and the Reader that turns raw values into typed ones while
// collecting problems (it never throws, so one pass finds them all).
import * as pulumi from "@pulumi/pulumi";
import { OPAQUE_SECRET } from "./secrets";

export const NAMESPACE = "stowrs-to-s3";

export interface ParseOptions {
  /** Stack name, for messages. */
  stack: string;
  /** Where file paths in config (certificate.truststore) are resolved. */
  projectDir: string;
  /** Config keys the engine holds encrypted (`pulumi config set --secret`). */
  secretKeys: string[];
  /**
   * Exactly which values the stack file holds encrypted (`stowrs-to-s3:certificate.serverKey`),
   * when the offline tools read it; the engine names only the top-level keys (secretKeys).
   */
  secretPaths?: string[];
}

export class ConfigError extends pulumi.RunError {
  constructor(readonly problems: string[]) {
    super(`invalid stack configuration:\n  ${problems.join("\n  ")}`);
    this.name = "ConfigError";
  }
}

/** An object-valued key after JSON parsing. */
export type Fields = Record<string, unknown>;

const BUCKET_PREFIX = /^[a-z0-9][a-z0-9.-]*$/;
const AWS_BUCKET_PREFIX_MAX = 37; // the provider appends a 26-character unique suffix

/**
 * One parse's raw input and its problem list. Blocks read their keys through it and report
 * through it; every message starts with the key it is about.
 */
export class Reader {
  /** Keys (and key.field paths) whose problem was a secret where plain text is needed: said once, not again. */
  private readonly secretReported = new Set<string>();

  constructor(
    private readonly problems: string[],
    readonly opts: ParseOptions,
    /** This namespace's values, by key without the namespace (objects as JSON text). */
    private readonly own: Readonly<Record<string, string>>,
    /** The whole flat config map (other namespaces, e.g. aws:region). */
    readonly values: Readonly<Record<string, string>>,
    readonly env: Readonly<Record<string, string | undefined>>,
  ) {}

  /**
   * The raw value of one of this namespace's keys, undefined when the stack file leaves it out.
   * A whole key stored encrypted reads as left out, after one message saying so.
   */
  raw(key: string): string | undefined {
    const value = this.own[key];
    if (value === OPAQUE_SECRET) {
      // Said once, however many blocks read the key.
      if (!this.secretReported.has(key)) this.secretWherePlainNeeded(key);
      return undefined;
    }
    return value;
  }

  /** A problem with one of this namespace's keys. */
  report(key: string, problem: string): void {
    // After "this is a secret", a consequence such as "required" or "go together" would only contradict it.
    if (this.secretReported.has(key)) return;
    for (const path of this.secretReported) {
      const [k, field] = path.split(".");
      if (k === key && field && new RegExp(`\\b${field}\\b`).test(problem)) return;
    }
    this.problems.push(`${NAMESPACE}:${key}: ${problem}`);
  }

  /**
   * Whether key (or key.field) is stored encrypted: offline, by the exact path in the stack file
   * (or the stand-in the offline tools put there); under the engine, by its top-level key.
   */
  storedEncrypted(key: string, field?: string, raw?: unknown): boolean {
    if (raw === OPAQUE_SECRET) return true;
    const top = `${NAMESPACE}:${key}`;
    if (this.opts.secretPaths) return this.opts.secretPaths.includes(field ? `${top}.${field}` : top);
    return this.opts.secretKeys.includes(top);
  }

  private secretWherePlainNeeded(key: string, field?: string): void {
    const where = field ? `${key}.${field}` : key;
    this.problems.push(
      `${NAMESPACE}:${key}: ${field ? `${field} is` : "is"} stored as a secret (secure:), but the stack needs it in plain text ` +
        `(the plan, the snapshots and the policy run never decrypt; it is no credential): ` +
        `set it without --secret: pulumi config set ${field ? "--path " : ""}${NAMESPACE}:${where} <value>`,
    );
    this.secretReported.add(field ? `${key}.${field}` : key);
  }

  /** A problem already naming its own key (another namespace's, like aws:region). */
  problem(text: string): void {
    this.problems.push(text);
  }

  /**
   * Object-valued keys arrive as JSON text; anything else is reported, not guessed at. A field
   * stored encrypted is reported and left out unless it is one of `secretFields` (which the
   * block then reads, as the OPAQUE_SECRET stand-in offline).
   */
  object(key: string, raw: string | undefined, example: string, secretFields: readonly string[] = []): Fields | undefined {
    if (raw === undefined) return undefined;
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      parsed = undefined;
    }
    if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
      this.report(key, `expected an object like ${example}, got ${JSON.stringify(raw)}`);
      return undefined;
    }
    const fields = parsed as Fields;
    for (const [field, value] of Object.entries(fields)) {
      if (value === OPAQUE_SECRET && !secretFields.includes(field)) {
        this.secretWherePlainNeeded(key, field);
        delete fields[field];
      }
    }
    return fields;
  }

  unknownFields(key: string, fields: Fields, known: readonly string[]): void {
    for (const f of Object.keys(fields)) {
      if (!known.includes(f)) this.report(key, `unknown field "${f}" (known fields: ${known.join(", ")})`);
    }
  }

  integer(key: string, field: string, raw: unknown, fallback: number, min: number, max: number): number {
    if (raw === undefined) return fallback;
    const n = typeof raw === "string" && /^\d+$/.test(raw.trim()) ? Number(raw) : raw;
    if (typeof n !== "number" || !Number.isInteger(n)) {
      this.report(key, `${field} must be a whole number, got ${JSON.stringify(raw)}`);
      return fallback;
    }
    if (n < min || n > max) {
      this.report(key, `${field} must be between ${min} and ${max}, got ${n}`);
      return fallback;
    }
    return n;
  }

  text(key: string, field: string, raw: unknown, fallback: string): string {
    if (raw === undefined || raw === null) return fallback;
    if (typeof raw !== "string") {
      this.report(key, `${field} must be a string, got ${JSON.stringify(raw)}`);
      return fallback;
    }
    return raw.trim();
  }

  oneOf<T extends string>(key: string, raw: string | undefined, allowed: readonly T[], fallback: T, field?: string): T {
    if (raw === undefined) return fallback;
    if ((allowed as readonly string[]).includes(raw)) return raw as T;
    this.report(key, `${field ? `${field} ` : ""}must be one of ${allowed.join(", ")}, got "${raw}"`);
    return fallback;
  }

  flag(key: string, raw: string | undefined, fallback: boolean): boolean {
    if (raw === undefined) return fallback;
    const v = raw.trim().toLowerCase();
    if (v === "true") return true;
    if (v === "false") return false;
    this.report(key, `must be true or false, got "${raw}"`);
    return fallback;
  }

  /** A bucket name prefix the provider completes with a unique suffix. */
  bucketPrefix(key: string, raw: unknown, fallback: string, field?: string): string {
    if (raw === undefined) return fallback;
    const label = field ? `${field} ` : "";
    if (typeof raw !== "string") {
      this.report(key, `${label}must be a string`);
      return fallback;
    }
    const prefix = raw.trim();
    const problems: string[] = [];
    if (prefix.length < 1 || prefix.length > AWS_BUCKET_PREFIX_MAX) {
      problems.push(`must be 1 to ${AWS_BUCKET_PREFIX_MAX} characters (a unique suffix is appended), got ${prefix.length}`);
    }
    if (!BUCKET_PREFIX.test(prefix) || prefix.includes("..") || prefix.startsWith("xn--")) {
      problems.push(`"${prefix}" is not a valid S3 bucket name prefix (a-z, 0-9, "." and "-", starting with a letter or digit)`);
    }
    for (const p of problems) this.report(key, `${label}${p}`);
    return problems.length ? fallback : prefix;
  }
}
