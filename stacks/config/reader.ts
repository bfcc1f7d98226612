// What every config block shares: the namespace, the options of a parse, the error that
// lists every problem at once, and the Reader that turns raw values into typed ones while
// collecting problems (it never throws, so one pass finds them all).
import * as pulumi from "@pulumi/pulumi";

export const NAMESPACE = "stowrs-to-s3";

export interface ParseOptions {
  /** Stack name, for messages. */
  stack: string;
  /** Where file paths in config (certificate.truststore) are resolved. */
  projectDir: string;
  /** Config keys the engine holds encrypted (`pulumi config set --secret`). */
  secretKeys: string[];
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
  constructor(
    private readonly problems: string[],
    readonly opts: ParseOptions,
    /** This namespace's values, by key without the namespace (objects as JSON text). */
    private readonly own: Readonly<Record<string, string>>,
    /** The whole flat config map (other namespaces, e.g. aws:region). */
    readonly values: Readonly<Record<string, string>>,
    readonly env: Readonly<Record<string, string | undefined>>,
  ) {}

  /** The raw value of one of this namespace's keys, undefined when the stack file leaves it out. */
  raw(key: string): string | undefined {
    return this.own[key];
  }

  /** A problem with one of this namespace's keys. */
  report(key: string, problem: string): void {
    this.problems.push(`${NAMESPACE}:${key}: ${problem}`);
  }

  /** A problem already naming its own key (another namespace's, like aws:region). */
  problem(text: string): void {
    this.problems.push(text);
  }

  /** Object-valued keys arrive as JSON text; anything else is reported, not guessed at. */
  object(key: string, raw: string | undefined, example: string): Fields | undefined {
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
    return parsed as Fields;
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
