// Typed stack configuration. Everything the program needs is read and checked here,
// in one pass, so a bad stack file produces the full list of problems at once instead
// of failing on the first key and again after each fix.
import * as pulumi from "@pulumi/pulumi";
import { describeFargateSizes, isValidFargateSize } from "./fargate";
import { parseCidr } from "./cidr";

export const NAMESPACE = "stowrs-to-s3";

export type AuthMode = "anonymous" | "clientauth";
export type CertificateMode = "ACM" | "FROMS3";
export type BucketEncryption = "SSE-KMS" | "SSE-S3";
export type LogLevel = "ERROR" | "WARNING" | "INFO" | "DEBUG" | "CRITICAL";

export type CertificateConfig =
  | { mode: "ACM"; authMode: "anonymous"; arn: string }
  | { mode: "FROMS3"; authMode: AuthMode; bucket: string };

export interface FargateConfig {
  cpu: number;
  memory: number;
  taskCount: number;
  minTasks: number;
  maxTasks: number;
}

export interface AppSettings {
  prefix: string;
  wadoUrl: string;
  logLevel: LogLevel;
  /** Seconds, as the service's RESPONSEDELAY expects. */
  responseDelay: number;
}

export interface UploadSettings {
  partSizeMiB: number;
  partConcurrency: number;
  instanceConcurrency: number;
}

export interface StackConfig {
  region: string;
  appName: string;
  vpcCidr: string;
  dicomBucket: string;
  bucketEncryption: BucketEncryption;
  certificate: CertificateConfig;
  allowedPeers: string[];
  fargate: FargateConfig;
  app: AppSettings;
  upload: UploadSettings;
  tags: Record<string, string>;
  images: { app?: string; nginx?: string };
}

export class ConfigError extends pulumi.RunError {
  constructor(readonly problems: string[]) {
    super(`invalid stack configuration:\n  ${problems.join("\n  ")}`);
    this.name = "ConfigError";
  }
}

/** Keys of the stowrs-to-s3 namespace; anything else there is a typo worth reporting. */
const KNOWN_KEYS = [
  "appName",
  "vpcCidr",
  "dicomBucket",
  "bucketEncryption",
  "certificate",
  "allowedPeers",
  "fargate",
  "app",
  "upload",
  "tags",
  "images",
] as const;

export const DEFAULTS = {
  appName: "stowrs",
  vpcCidr: "10.0.0.0/16",
  bucketEncryption: "SSE-KMS" as BucketEncryption,
  certificate: { mode: "FROMS3", authMode: "anonymous" } as const,
  fargate: { cpu: 512, memory: 1024, taskCount: 1 },
  app: { prefix: "", wadoUrl: "", logLevel: "INFO" as LogLevel, responseDelay: 0 },
  upload: { partSizeMiB: 8, partConcurrency: 4, instanceConcurrency: 4 },
};

const LOG_LEVELS: readonly LogLevel[] = ["ERROR", "WARNING", "INFO", "DEBUG", "CRITICAL"];
const APP_NAME = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/;
const BUCKET_PREFIX = /^[a-z0-9][a-z0-9.-]*$/;
const ACM_ARN = /^arn:aws[a-z-]*:acm:([a-z0-9-]+):(\d{12}):certificate\/[A-Za-z0-9-]+$/;
const REGION = /^[a-z]{2}(?:-[a-z]+)+-\d+$/;
const TAG_TEXT = /^[\p{L}\p{N}\s_.:/=+\-@]*$/u;
const IMAGE_REF = /^[a-z0-9][a-z0-9._\-/:@]*$/i;
const AWS_BUCKET_PREFIX_MAX = 37; // the provider appends a 26-character unique suffix

/**
 * Reads the stack's configuration (all namespaces, as Pulumi hands it to the program)
 * and the environment fallback for the region.
 */
export function loadConfig(): StackConfig {
  return parseConfig(pulumi.runtime.allConfig(), process.env);
}

/**
 * Validates a flat Pulumi config map (`"stowrs-to-s3:appName" -> "dev"`, objects as JSON
 * text) and returns typed values, or throws one ConfigError listing every problem.
 */
export function parseConfig(
  values: Record<string, string>,
  env: Record<string, string | undefined> = {},
): StackConfig {
  const problems: string[] = [];
  const own: Record<string, string> = {};
  for (const [fullKey, value] of Object.entries(values)) {
    if (!fullKey.startsWith(`${NAMESPACE}:`)) continue;
    const key = fullKey.slice(NAMESPACE.length + 1);
    if (!(KNOWN_KEYS as readonly string[]).includes(key)) {
      problems.push(`${NAMESPACE}:${key}: unknown key (known keys: ${KNOWN_KEYS.join(", ")})`);
      continue;
    }
    own[key] = value;
  }
  const v = new Validator(problems);

  const regionRaw = values["aws:region"] ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
  let region = "";
  if (regionRaw === undefined || regionRaw.trim() === "") {
    problems.push(`aws:region: required; set it with "pulumi config set aws:region <region>"`);
  } else if (!REGION.test(regionRaw.trim())) {
    problems.push(`aws:region: "${regionRaw}" is not an AWS region name`);
  } else region = regionRaw.trim();

  const appName = v.appName(own.appName);
  const vpcCidr = v.vpcCidr(own.vpcCidr);
  const dicomBucket = v.bucketPrefix("dicomBucket", own.dicomBucket, `${appName}-dicom`);
  const bucketEncryption = v.oneOf("bucketEncryption", own.bucketEncryption, ["SSE-KMS", "SSE-S3"] as const, DEFAULTS.bucketEncryption);
  const certificate = v.certificate(own.certificate, appName, region);
  const allowedPeers = v.allowedPeers(own.allowedPeers);
  const fargate = v.fargate(own.fargate);
  const app = v.app(own.app);
  const upload = v.upload(own.upload);
  const tags = v.tags(own.tags);
  const images = v.images(own.images);

  if (problems.length > 0) throw new ConfigError(problems);
  return {
    region,
    appName,
    vpcCidr,
    dicomBucket,
    bucketEncryption,
    certificate,
    allowedPeers,
    fargate,
    app,
    upload,
    tags,
    images,
  };
}

type Fields = Record<string, unknown>;

/** Collects problems while turning raw values into typed ones; never throws. */
class Validator {
  constructor(private readonly problems: string[]) {}

  private report(key: string, problem: string): void {
    this.problems.push(`${NAMESPACE}:${key}: ${problem}`);
  }

  appName(raw: string | undefined): string {
    if (raw === undefined) return DEFAULTS.appName;
    const name = raw.trim();
    let ok = true;
    if (name.length === 0 || name.length > 20) {
      this.report("appName", `must be 1 to 20 characters, got ${name.length} ("${name}")`);
      ok = false;
    }
    if (!APP_NAME.test(name)) {
      this.report("appName", `"${name}" may contain only a-z, 0-9 and "-", and must start and end with a letter or digit`);
      ok = false;
    }
    return ok ? name : DEFAULTS.appName;
  }

  vpcCidr(raw: string | undefined): string {
    if (raw === undefined) return DEFAULTS.vpcCidr;
    const parsed = parseCidr(raw.trim());
    if (typeof parsed === "string") {
      this.report("vpcCidr", parsed);
      return DEFAULTS.vpcCidr;
    }
    if (parsed.prefixLength < 16 || parsed.prefixLength > 24) {
      this.report("vpcCidr", `prefix length must be between /16 and /24 to hold the stack's subnets, got /${parsed.prefixLength}`);
      return DEFAULTS.vpcCidr;
    }
    return parsed.text;
  }

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

  oneOf<T extends string>(key: string, raw: string | undefined, allowed: readonly T[], fallback: T, field?: string): T {
    if (raw === undefined) return fallback;
    if ((allowed as readonly string[]).includes(raw)) return raw as T;
    this.report(key, `${field ? `${field} ` : ""}must be one of ${allowed.join(", ")}, got "${raw}"`);
    return fallback;
  }

  /** Object-valued keys arrive as JSON text; anything else is reported, not guessed at. */
  private object(key: string, raw: string | undefined, example: string): Fields | undefined {
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

  private unknownFields(key: string, fields: Fields, known: readonly string[]): void {
    for (const f of Object.keys(fields)) {
      if (!known.includes(f)) this.report(key, `unknown field "${f}" (known fields: ${known.join(", ")})`);
    }
  }

  private integer(key: string, field: string, raw: unknown, fallback: number, min: number, max: number): number {
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

  private text(key: string, field: string, raw: unknown, fallback: string): string {
    if (raw === undefined || raw === null) return fallback;
    if (typeof raw !== "string") {
      this.report(key, `${field} must be a string, got ${JSON.stringify(raw)}`);
      return fallback;
    }
    return raw.trim();
  }

  certificate(raw: string | undefined, appName: string, region: string): CertificateConfig {
    const key = "certificate";
    const fallbackBucket = `${appName}-certs`;
    const fallback: CertificateConfig = { ...DEFAULTS.certificate, bucket: fallbackBucket };
    const fields = this.object(key, raw, `{ mode: FROMS3, authMode: anonymous }`);
    if (fields === undefined) return fallback;
    this.unknownFields(key, fields, ["mode", "authMode", "arn", "bucket"]);
    const modeText = this.text(key, "mode", fields.mode, "FROMS3");
    const authMode = this.oneOf(
      key,
      this.text(key, "authMode", fields.authMode, "anonymous"),
      ["anonymous", "clientauth"] as const,
      "anonymous",
      "authMode",
    );
    if (modeText !== "ACM" && modeText !== "FROMS3") {
      // The other fields only make sense once the mode is known.
      this.report(key, `mode must be one of ACM, FROMS3, got "${modeText}"`);
      return fallback;
    }
    const mode = modeText;

    if (mode === "ACM") {
      if (authMode === "clientauth") {
        this.report(key, "clientauth needs mode FROMS3 (the NLB cannot check client certificates, so TLS must pass through to nginx)");
      }
      if (fields.bucket !== undefined) this.report(key, "bucket is only used with mode FROMS3");
      const arn = this.text(key, "arn", fields.arn, "");
      if (arn === "") {
        this.report(key, "mode ACM needs arn (the ACM certificate for the NLB listener)");
        return fallback;
      }
      const m = ACM_ARN.exec(arn);
      if (!m) {
        this.report(key, `arn "${arn}" is not an ACM certificate ARN`);
        return fallback;
      }
      if (region !== "" && m[1] !== region) {
        this.report(key, `arn is in ${m[1]} but the stack deploys to ${region}; the NLB needs a certificate from its own region`);
      }
      return { mode, authMode: "anonymous", arn };
    }

    if (fields.arn !== undefined) this.report(key, "arn is only used with mode ACM");
    const bucket = this.bucketPrefix(key, fields.bucket, fallbackBucket, "bucket");
    return { mode, authMode, bucket };
  }

  allowedPeers(raw: string | undefined): string[] {
    const key = "allowedPeers";
    if (raw === undefined) {
      this.report(key, "required: list the IPv4 CIDRs that may reach port 443, e.g. [\"203.0.113.0/24\"]");
      return [];
    }
    let list: unknown;
    try {
      list = JSON.parse(raw);
    } catch {
      // `pulumi config set stowrs-to-s3:allowedPeers 203.0.113.0/24,198.51.100.7/32` is a fair thing to type.
      list = raw.split(",").map((s) => s.trim());
    }
    if (typeof list === "string") list = [list];
    if (!Array.isArray(list)) {
      this.report(key, `expected a list of IPv4 CIDRs, got ${raw}`);
      return [];
    }
    if (list.length === 0) this.report(key, "must list at least one CIDR; nobody could reach the service");
    if (list.length > 50) this.report(key, `at most 50 CIDRs fit in the load balancer's security group, got ${list.length}`);
    const peers: string[] = [];
    for (const item of list) {
      if (typeof item !== "string") {
        this.report(key, `${JSON.stringify(item)} is not a CIDR string`);
        continue;
      }
      const parsed = parseCidr(item.trim());
      if (typeof parsed === "string") {
        this.report(key, parsed);
        continue;
      }
      if (peers.includes(parsed.text)) {
        this.report(key, `${parsed.text} is listed twice`);
        continue;
      }
      peers.push(parsed.text);
    }
    return peers;
  }

  fargate(raw: string | undefined): FargateConfig {
    const key = "fargate";
    const fields = this.object(key, raw, `{ cpu: 512, memory: 1024, taskCount: 1 }`) ?? {};
    this.unknownFields(key, fields, ["cpu", "memory", "taskCount", "minTasks", "maxTasks"]);
    const d = DEFAULTS.fargate;
    const cpu = this.integer(key, "cpu", fields.cpu, d.cpu, 256, 16384);
    const memory = this.integer(key, "memory", fields.memory, d.memory, 512, 122880);
    if (!isValidFargateSize(cpu, memory)) {
      this.report(key, `cpu ${cpu} with memory ${memory} is not a Fargate size; valid pairs: ${describeFargateSizes(cpu)}`);
    }
    const taskCount = this.integer(key, "taskCount", fields.taskCount, d.taskCount, 1, 100);
    const minTasks = this.integer(key, "minTasks", fields.minTasks, taskCount, 1, 100);
    const maxTasks = this.integer(key, "maxTasks", fields.maxTasks, Math.max(taskCount, minTasks), 1, 100);
    if (minTasks > taskCount || taskCount > maxTasks) {
      this.report(key, `needs minTasks <= taskCount <= maxTasks, got ${minTasks} <= ${taskCount} <= ${maxTasks}`);
    }
    return { cpu, memory, taskCount, minTasks, maxTasks };
  }

  app(raw: string | undefined): AppSettings {
    const key = "app";
    const d = DEFAULTS.app;
    const fields = this.object(key, raw, `{ prefix: dicom, logLevel: INFO }`) ?? {};
    this.unknownFields(key, fields, ["prefix", "wadoUrl", "logLevel", "responseDelay"]);

    const rawPrefix = this.text(key, "prefix", fields.prefix, d.prefix);
    const prefix = rawPrefix.replace(/^\/+|\/+$/g, "");
    // The prefix ends up in IAM resource ARNs, where * and ? are wildcards.
    if (prefix.split("/").some((s) => s === "." || s === ".." || s === "") && prefix !== "") {
      this.report(key, `prefix "${rawPrefix}" must not contain empty, "." or ".." segments`);
    } else if (/[\\*?\x00-\x1f]/.test(prefix) || prefix.length > 512) {
      this.report(key, `prefix "${rawPrefix}" must be at most 512 characters without \\, *, ? or control characters`);
    }

    const wadoUrl = this.text(key, "wadoUrl", fields.wadoUrl, d.wadoUrl);
    if (wadoUrl !== "" && !isHttpUrl(wadoUrl)) this.report(key, `wadoUrl "${wadoUrl}" is not an http(s) URL`);

    const level = this.text(key, "logLevel", fields.logLevel, d.logLevel).toUpperCase();
    const logLevel = this.oneOf(key, level, LOG_LEVELS, d.logLevel, "logLevel");

    let responseDelay = d.responseDelay;
    if (fields.responseDelay !== undefined) {
      const n = typeof fields.responseDelay === "string" ? Number(fields.responseDelay) : fields.responseDelay;
      if (typeof n !== "number" || !Number.isFinite(n) || n < 0 || n > 600) {
        this.report(key, `responseDelay must be seconds between 0 and 600, got ${JSON.stringify(fields.responseDelay)}`);
      } else responseDelay = n;
    }
    return { prefix, wadoUrl, logLevel, responseDelay };
  }

  upload(raw: string | undefined): UploadSettings {
    const key = "upload";
    const d = DEFAULTS.upload;
    const fields = this.object(key, raw, `{ partSizeMiB: 8, partConcurrency: 4, instanceConcurrency: 4 }`) ?? {};
    this.unknownFields(key, fields, ["partSizeMiB", "partConcurrency", "instanceConcurrency"]);
    return {
      // S3 rejects parts under 5 MiB (except the last) and over 5 GiB.
      partSizeMiB: this.integer(key, "partSizeMiB", fields.partSizeMiB, d.partSizeMiB, 5, 5120),
      partConcurrency: this.integer(key, "partConcurrency", fields.partConcurrency, d.partConcurrency, 1, 64),
      instanceConcurrency: this.integer(key, "instanceConcurrency", fields.instanceConcurrency, d.instanceConcurrency, 1, 256),
    };
  }

  tags(raw: string | undefined): Record<string, string> {
    const key = "tags";
    const fields = this.object(key, raw, `{ owner: radiology-it }`);
    if (fields === undefined) return {};
    const tags: Record<string, string> = {};
    for (const [name, value] of Object.entries(fields)) {
      if (value === null || typeof value === "object") {
        this.report(key, `value of "${name}" must be text, got ${JSON.stringify(value)}`);
        continue;
      }
      const text = String(value);
      if (name === "deployment") {
        this.report(key, `"deployment" is set from appName and cannot be overridden`);
      } else if (name.toLowerCase().startsWith("aws:")) {
        this.report(key, `"${name}": the aws: prefix is reserved by AWS`);
      } else if (name.length < 1 || name.length > 128 || !TAG_TEXT.test(name)) {
        this.report(key, `"${name}" is not a valid tag key (1-128 letters, digits, spaces and _ . : / = + - @)`);
      } else if (text.length > 256 || !TAG_TEXT.test(text)) {
        this.report(key, `value of "${name}" is not a valid tag value (up to 256 letters, digits, spaces and _ . : / = + - @)`);
      } else tags[name] = text;
    }
    // AWS allows 50 tags per resource; one of them is the deployment tag.
    if (Object.keys(fields).length > 49) this.report(key, `at most 49 tags, got ${Object.keys(fields).length}`);
    return tags;
  }

  images(raw: string | undefined): { app?: string; nginx?: string } {
    const key = "images";
    const fields = this.object(key, raw, `{ app: 123456789012.dkr.ecr.eu-central-1.amazonaws.com/stowrs-app:1.0.0 }`);
    if (fields === undefined) return {};
    this.unknownFields(key, fields, ["app", "nginx"]);
    const images: { app?: string; nginx?: string } = {};
    for (const name of ["app", "nginx"] as const) {
      if (fields[name] === undefined) continue;
      const ref = this.text(key, name, fields[name], "");
      if (!IMAGE_REF.test(ref)) this.report(key, `${name} "${ref}" is not an image reference`);
      else images[name] = ref;
    }
    return images;
  }
}

function isHttpUrl(text: string): boolean {
  try {
    const u = new URL(text);
    return u.protocol === "http:" || u.protocol === "https:";
  } catch {
    return false;
  }
}
