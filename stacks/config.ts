// Typed stack configuration. Everything the program needs is read and checked here,
// in one pass, so a bad stack file produces the full list of problems at once instead
// of failing on the first key and again after each fix.
import * as fs from "node:fs";
import * as path from "node:path";
import { X509Certificate, createPrivateKey } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
import {
  MAX_INSTANCES_IN_FLIGHT,
  OIDC_DEFAULT_ALGORITHMS,
  OIDC_DEFAULT_SCOPE,
  oidcAudienceProblem,
  oidcIssuerProblem,
  oidcScopeProblem,
  parseOidcAlgorithms,
  RESPONSE_DELAY_MAX_SECONDS,
  UPLOAD_INSTANCE_CONCURRENCY,
  UPLOAD_PART_CONCURRENCY,
  UPLOAD_PART_SIZE_MIB,
  uploadBufferMiB,
  type IntegerSetting,
} from "../app/src/config-limits";
import { describeFargateSizes, isValidFargateSize } from "./fargate";
import { parseCidr } from "./cidr";
import { appMemoryMiB, APP_BASELINE_MIB, largestInFlight, NGINX_MEMORY_MIB, worstCaseMiB } from "./memory-budget";
import { isDocumentationCidr, isPlaceholderHost, type Placeholder } from "./placeholders";

export const NAMESPACE = "stowrs-to-s3";

/**
 * Who may store: anyone in allowedPeers (anonymous), holders of a client certificate
 * (clientauth, checked by nginx), holders of a bearer token (oidc, checked by the app), or both.
 */
export type AuthMode = "anonymous" | "clientauth" | "oidc" | "clientauth+oidc";
export const AUTH_MODES: readonly AuthMode[] = ["anonymous", "clientauth", "oidc", "clientauth+oidc"];

export function usesClientCertificates(mode: AuthMode): boolean {
  return mode === "clientauth" || mode === "clientauth+oidc";
}

export function usesBearerTokens(mode: AuthMode): boolean {
  return mode === "oidc" || mode === "clientauth+oidc";
}
export type CertificateMode = "ACM" | "FROMS3";
export type BucketEncryption = "SSE-KMS" | "SSE-S3";
export type LogLevel = "ERROR" | "WARNING" | "INFO" | "DEBUG" | "CRITICAL";

/** PEM text with where it came from (the config value itself, or a file it named). */
export interface PemSource {
  pem: string;
  origin: string;
}

export type CertificateConfig =
  | { mode: "ACM"; authMode: "anonymous" | "oidc"; arn: string }
  | {
      mode: "FROMS3";
      authMode: AuthMode;
      /** The stack writes the objects nginx reads into a bucket it makes (bucket: name prefix). */
      source: "stack";
      bucket: string;
      /** CA certificates client certificates must chain to; required with clientauth. */
      truststore?: PemSource;
      /** Server certificate (chain) and key from config; absent: the stack generates one for the NLB's name. */
      server?: { certificate: PemSource; key: string };
    }
  | {
      mode: "FROMS3";
      authMode: AuthMode;
      /** The operator keeps the files in an existing bucket, named exactly; the stack writes nothing there. */
      source: "external";
      bucket: string;
    };

/** How nginx gets its server certificate; shown by the rehearsal and in the outputs. */
export function certificateSummary(c: CertificateConfig): string {
  if (c.mode === "ACM") return "ACM";
  if (c.source === "external") return "FROMS3 external bucket";
  return c.server ? "FROMS3 certificate from config" : "FROMS3 generated certificate";
}

/** The token issuer the app trusts (authMode oidc or clientauth+oidc); the app's OIDC_* settings. */
export interface OidcConfig {
  issuer: string;
  audience: string;
  requiredScope: string;
  algorithms: string[];
}

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
  /** Process-wide admission limit; unset in config: the largest value whose worst case fits the app's memory. */
  maxInstancesInFlight: number;
}

export interface StackConfig {
  region: string;
  appName: string;
  vpcCidr: string;
  dicomBucket: string;
  bucketEncryption: BucketEncryption;
  certificate: CertificateConfig;
  /** Set exactly when certificate.authMode includes oidc. */
  oidc?: OidcConfig;
  allowedPeers: string[];
  fargate: FargateConfig;
  app: AppSettings;
  upload: UploadSettings;
  tags: Record<string, string>;
  images: { app?: string; nginx?: string };
  /** Pulumi `protect` on the DICOM bucket, its KMS key and the access-log bucket. */
  protectData: boolean;
  /** Deletion protection on the load balancer. */
  nlbDeletionProtection: boolean;
  /** CloudWatch retention of container logs and VPC flow logs. */
  logRetentionDays: number;
  /** Expiry of S3 server access logs. */
  accessLogRetentionDays: number;
  /** Values that stand in for real ones; plan and preview warn, `pulumi up` refuses. */
  placeholders: Placeholder[];
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
  "oidc",
  "allowedPeers",
  "fargate",
  "app",
  "upload",
  "tags",
  "images",
  "protectData",
  "nlbDeletionProtection",
  "logRetentionDays",
  "accessLogRetentionDays",
] as const;

export const DEFAULTS = {
  appName: "stowrs",
  vpcCidr: "10.0.0.0/16",
  bucketEncryption: "SSE-KMS" as BucketEncryption,
  certificate: { mode: "FROMS3", authMode: "anonymous" } as const,
  fargate: { cpu: 512, memory: 1024, taskCount: 1 },
  app: { prefix: "", wadoUrl: "", logLevel: "INFO" as LogLevel, responseDelay: 0 },
  // The service's own defaults (app/src/config-limits.ts): one set for both.
  upload: {
    partSizeMiB: UPLOAD_PART_SIZE_MIB.default,
    partConcurrency: UPLOAD_PART_CONCURRENCY.default,
    instanceConcurrency: UPLOAD_INSTANCE_CONCURRENCY.default,
  },
  // Protected unless a stack turns it off (dev does): losing received images or the
  // endpoint's address by accident costs more than an extra command before a destroy.
  protectData: true,
  nlbDeletionProtection: true,
  logRetentionDays: 30,
  accessLogRetentionDays: 365,
};

/** The retention periods CloudWatch Logs accepts. */
export const LOG_RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653];

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
export function loadConfig(options: Partial<ParseOptions> = {}): StackConfig {
  return parseConfig(pulumi.runtime.allConfig(), process.env, {
    stack: pulumi.getStack(),
    // Relative file paths in config start beside Pulumi.yaml, wherever `main` points.
    projectDir: pulumi.runtime.getRootDirectory() || process.cwd(),
    secretKeys: secretConfigKeys(),
    ...options,
  });
}

export interface ParseOptions {
  /** Stack name, for messages. */
  stack: string;
  /** Where file paths in config (certificate.truststore) are resolved. */
  projectDir: string;
  /** Config keys the engine holds encrypted (`pulumi config set --secret`). */
  secretKeys: string[];
}

/** Keys set with --secret, as the engine hands them to the program. */
function secretConfigKeys(): string[] {
  try {
    const keys = JSON.parse(process.env.PULUMI_CONFIG_SECRET_KEYS ?? "[]");
    return Array.isArray(keys) ? keys : [];
  } catch {
    return [];
  }
}

/**
 * Validates a flat Pulumi config map (`"stowrs-to-s3:appName" -> "dev"`, objects as JSON
 * text) and returns typed values, or throws one ConfigError listing every problem.
 */
export function parseConfig(
  values: Record<string, string>,
  env: Record<string, string | undefined> = {},
  options: Partial<ParseOptions> = {},
): StackConfig {
  const opts: ParseOptions = { stack: "", projectDir: process.cwd(), secretKeys: [], ...options };
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
  const v = new Validator(problems, opts);

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
  const oidc = v.oidc(own.oidc, certificate.authMode);
  const allowedPeers = v.allowedPeers(own.allowedPeers);
  const fargate = v.fargate(own.fargate);
  const app = v.app(own.app);
  const upload = v.upload(own.upload, fargate.memory);
  const tags = v.tags(own.tags);
  const images = v.images(own.images);
  const protectData = v.flag("protectData", own.protectData, DEFAULTS.protectData);
  const nlbDeletionProtection = v.flag("nlbDeletionProtection", own.nlbDeletionProtection, DEFAULTS.nlbDeletionProtection);
  const logRetentionDays = v.retention("logRetentionDays", own.logRetentionDays, DEFAULTS.logRetentionDays, LOG_RETENTION_DAYS);
  const accessLogRetentionDays = v.retention("accessLogRetentionDays", own.accessLogRetentionDays, DEFAULTS.accessLogRetentionDays);

  if (problems.length > 0) throw new ConfigError(problems);
  const placeholders = findPlaceholders(allowedPeers, app, certificate, oidc);
  return {
    region,
    appName,
    vpcCidr,
    dicomBucket,
    bucketEncryption,
    certificate,
    ...(oidc ? { oidc } : {}),
    allowedPeers,
    fargate,
    app,
    upload,
    tags,
    images,
    protectData,
    nlbDeletionProtection,
    logRetentionDays,
    accessLogRetentionDays,
    placeholders,
  };
}

function findPlaceholders(allowedPeers: string[], app: AppSettings, certificate: CertificateConfig, oidc: OidcConfig | undefined): Placeholder[] {
  const found: Placeholder[] = [];
  const key = (k: string) => `${NAMESPACE}:${k}`;
  const docs = allowedPeers.filter(isDocumentationCidr);
  if (docs.length > 0) {
    found.push({
      key: key("allowedPeers"),
      message: `${docs.join(", ")} ${docs.length === 1 ? "is a documentation range" : "are documentation ranges"} (RFC 5737): nobody real can connect from there; list the senders' addresses`,
    });
  }
  if (app.wadoUrl !== "" && isPlaceholderHost(new URL(app.wadoUrl).hostname)) {
    found.push({
      key: key("app"),
      message: `wadoUrl ${app.wadoUrl} names an example or documentation host: responses would hand out RetrieveURLs nobody can follow`,
    });
  }
  if (oidc && isPlaceholderHost(new URL(oidc.issuer).hostname)) {
    found.push({
      key: key("oidc"),
      message: `issuer ${oidc.issuer} names an example or documentation host: no token could ever be checked; name your identity provider`,
    });
  }
  if (certificate.mode === "FROMS3" && certificate.source === "stack" && certificate.truststore && isPlaceholderCa(certificate.truststore.pem)) {
    found.push({
      key: key("certificate"),
      message: `truststore ${certificate.truststore.origin} is the repository's placeholder CA, whose private key is public: anyone could make a client certificate it accepts; name your own CA`,
    });
  }
  return found;
}

/** The committed example CA (stacks/examples/) says so in its subject. */
export function isPlaceholderCa(pem: string): boolean {
  return pemCertificates(pem).some((c) => /PLACEHOLDER/i.test(c.subject));
}

function pemCertificates(pem: string): X509Certificate[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  const certs: X509Certificate[] = [];
  for (const b of blocks) {
    try {
      certs.push(new X509Certificate(b));
    } catch {
      /* reported by the validator */
    }
  }
  return certs;
}

type Fields = Record<string, unknown>;

/** Collects problems while turning raw values into typed ones; never throws. */
class Validator {
  constructor(
    private readonly problems: string[],
    private readonly opts: ParseOptions,
  ) {}

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
    const fallback: CertificateConfig = { ...DEFAULTS.certificate, source: "stack", bucket: fallbackBucket };
    const fields = this.object(key, raw, `{ mode: FROMS3, authMode: anonymous }`);
    if (fields === undefined) return fallback;
    this.unknownFields(key, fields, ["mode", "authMode", "arn", "bucket", "source", "truststore", "serverCertificate", "serverKey"]);
    const modeText = this.text(key, "mode", fields.mode, "FROMS3");
    const authMode = this.oneOf(key, this.text(key, "authMode", fields.authMode, "anonymous"), AUTH_MODES, "anonymous", "authMode");
    if (modeText !== "ACM" && modeText !== "FROMS3") {
      // The other fields only make sense once the mode is known.
      this.report(key, `mode must be one of ACM, FROMS3, got "${modeText}"`);
      return fallback;
    }
    const mode = modeText;

    if (mode === "ACM") {
      if (usesClientCertificates(authMode)) {
        this.report(key, `${authMode} needs mode FROMS3 (the NLB cannot check client certificates, so TLS must pass through to nginx)`);
      }
      for (const f of ["bucket", "source", "truststore", "serverCertificate", "serverKey"]) {
        if (fields[f] !== undefined) this.report(key, `${f} is only used with mode FROMS3`);
      }
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
      return { mode, authMode: usesBearerTokens(authMode) ? "oidc" : "anonymous", arn };
    }

    if (fields.arn !== undefined) this.report(key, "arn is only used with mode ACM");
    const source = this.oneOf(key, this.text(key, "source", fields.source, "stack"), ["stack", "external"] as const, "stack", "source");
    if (source === "external") {
      for (const f of ["truststore", "serverCertificate", "serverKey"]) {
        if (fields[f] !== undefined) this.report(key, `${f} is only used with source stack; with source external the files live in the bucket you manage`);
      }
      const bucket = this.text(key, "bucket", fields.bucket, "");
      if (bucket === "") {
        this.report(key, "source external needs bucket: the exact name of the bucket holding certificate.crt, certificate.key and truststore.crt");
      } else if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket) || bucket.includes("..")) {
        this.report(key, `bucket "${bucket}" is not a valid S3 bucket name`);
      }
      return { mode, authMode, source, bucket };
    }

    const bucket = this.bucketPrefix(key, fields.bucket, fallbackBucket, "bucket");
    const truststore = fields.truststore === undefined ? undefined : this.pem(key, "truststore", fields.truststore);
    if (truststore) this.checkTruststore(key, truststore);
    if (usesClientCertificates(authMode) && fields.truststore === undefined) {
      this.report(
        key,
        `${authMode} needs a truststore source: set` +
          " certificate.truststore to the CA certificates (PEM text, or a file path) " +
          "that client certificates must chain to, or certificate.source external with the bucket you keep truststore.crt in",
      );
    }
    if (!usesClientCertificates(authMode) && truststore) this.report(key, "truststore is only used with authMode clientauth or clientauth+oidc");

    let server: { certificate: PemSource; key: string } | undefined;
    if ((fields.serverCertificate === undefined) !== (fields.serverKey === undefined)) {
      this.report(key, "serverCertificate and serverKey go together: set both (the key with --secret), or neither to have the stack generate a certificate");
    } else if (fields.serverCertificate !== undefined) {
      const certificate = this.pem(key, "serverCertificate", fields.serverCertificate);
      const keyText = this.text(key, "serverKey", fields.serverKey, "");
      const keyPem = keyText === "" || keyText.endsWith("\n") ? keyText : `${keyText}\n`;
      if (!this.opts.secretKeys.includes(`${NAMESPACE}:${key}`)) {
        this.report(key, "serverKey must be stored encrypted: pulumi config set --secret --path stowrs-to-s3:certificate.serverKey -- \"$(cat server.key)\"");
      }
      if (certificate && keyPem !== "" && this.checkServerPair(key, certificate, keyPem)) server = { certificate, key: keyPem };
    }
    return { mode, authMode, source, bucket, ...(truststore ? { truststore } : {}), ...(server ? { server } : {}) };
  }

  /** The token issuer, checked with the app's own rules (app/src/config-limits.ts) and the stack's egress. */
  oidc(raw: string | undefined, authMode: AuthMode): OidcConfig | undefined {
    const key = "oidc";
    const example = `{ issuer: https://idp.hospital.example/realms/imaging, audience: stowrs }`;
    if (!usesBearerTokens(authMode)) {
      if (raw !== undefined) this.report(key, `only used with certificate.authMode oidc or clientauth+oidc (the stack's is ${authMode})`);
      return undefined;
    }
    const fields = this.object(key, raw, example);
    if (fields === undefined) {
      if (raw === undefined) this.report(key, `required with certificate.authMode ${authMode}: the issuer whose tokens the service accepts, like ${example}`);
      return undefined;
    }
    this.unknownFields(key, fields, ["issuer", "audience", "requiredScope", "algorithms"]);
    let ok = true;
    const problem = (text: string) => {
      this.report(key, text);
      ok = false;
    };
    const issuer = this.text(key, "issuer", fields.issuer, "");
    if (issuer === "") problem("issuer is required: the identity provider's issuer URL, exactly as its tokens carry it in iss");
    else {
      const issuerProblem = oidcIssuerProblem(issuer);
      const url = issuerProblem ? undefined : new URL(issuer);
      if (issuerProblem) problem(`issuer ${issuerProblem}`);
      // The tasks reach the internet through NAT on 443 only (service.ts); loopback is this machine's, not theirs.
      else if (url!.protocol !== "https:") problem(`issuer "${issuer}" must be https:// in a stack: the tasks fetch its keys over the internet`);
      else if (url!.port !== "" && url!.port !== "443") problem(`issuer "${issuer}" uses port ${url!.port}; the tasks may reach out on 443 only`);
    }
    const audience = this.text(key, "audience", fields.audience, "");
    if (audience === "") problem("audience is required: the aud value tokens for this service carry (for Amazon Cognito, the app client id)");
    else {
      const audienceProblem = oidcAudienceProblem(audience);
      if (audienceProblem) problem(`audience ${audienceProblem}`);
    }
    const requiredScope = this.text(key, "requiredScope", fields.requiredScope, OIDC_DEFAULT_SCOPE);
    const scopeProblem = oidcScopeProblem(requiredScope);
    if (scopeProblem) problem(`requiredScope ${scopeProblem}`);
    let algorithms = [...OIDC_DEFAULT_ALGORITHMS];
    if (fields.algorithms !== undefined) {
      const list = Array.isArray(fields.algorithms) ? fields.algorithms : typeof fields.algorithms === "string" ? [fields.algorithms] : undefined;
      const parsed = list?.every((a) => typeof a === "string") ? parseOidcAlgorithms(list.join(",")) : undefined;
      if (parsed === undefined) problem(`algorithms must be a list like [RS256, ES256], got ${JSON.stringify(fields.algorithms)}`);
      else if ("problem" in parsed) problem(`algorithms: ${parsed.problem}`);
      else algorithms = parsed.algorithms;
    }
    return ok ? { issuer, audience, requiredScope, algorithms } : undefined;
  }

  /** PEM text, or a path (relative to the project directory) to a file holding it. */
  private pem(key: string, field: string, raw: unknown): PemSource | undefined {
    const text = this.text(key, field, raw, "");
    if (text.includes("-----BEGIN")) return { pem: text.endsWith("\n") ? text : `${text}\n`, origin: `(${field} in config)` };
    if (text === "") {
      this.report(key, `${field} is empty`);
      return undefined;
    }
    const file = path.resolve(this.opts.projectDir, text);
    try {
      return { pem: fs.readFileSync(file, "utf8"), origin: text };
    } catch (err) {
      this.report(key, `${field}: cannot read ${text} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); give PEM text or a file path relative to ${this.opts.projectDir}`);
      return undefined;
    }
  }

  private checkTruststore(key: string, source: PemSource): void {
    if (/PRIVATE KEY-----/.test(source.pem)) {
      this.report(key, `truststore ${source.origin} holds a private key; it must hold CA certificates only`);
      return;
    }
    const blocks = source.pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
    if (blocks.length === 0) {
      this.report(key, `truststore ${source.origin} holds no PEM certificate`);
      return;
    }
    for (const [i, block] of blocks.entries()) {
      try {
        const cert = new X509Certificate(block);
        if (!cert.ca) this.report(key, `truststore ${source.origin}: certificate #${i + 1} ("${cert.subject.replaceAll("\n", ", ")}") is not a CA certificate`);
      } catch (err) {
        this.report(key, `truststore ${source.origin}: certificate #${i + 1} cannot be parsed (${(err as Error).message})`);
      }
    }
  }

  private checkServerPair(key: string, certificate: PemSource, keyPem: string): boolean {
    const first = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/.exec(certificate.pem)?.[0];
    let leaf: X509Certificate;
    try {
      if (!first) throw new Error("no PEM certificate");
      leaf = new X509Certificate(first);
    } catch (err) {
      this.report(key, `serverCertificate ${certificate.origin} is not a PEM certificate (${(err as Error).message})`);
      return false;
    }
    try {
      if (!leaf.checkPrivateKey(createPrivateKey(keyPem))) {
        this.report(key, "serverKey does not belong to the first certificate in serverCertificate");
        return false;
      }
    } catch (err) {
      this.report(key, `serverKey is not an unencrypted PEM private key (${(err as Error).message.split("\n")[0]})`);
      return false;
    }
    return true;
  }

  flag(key: string, raw: string | undefined, fallback: boolean): boolean {
    if (raw === undefined) return fallback;
    const v = raw.trim().toLowerCase();
    if (v === "true") return true;
    if (v === "false") return false;
    this.report(key, `must be true or false, got "${raw}"`);
    return fallback;
  }

  retention(key: string, raw: string | undefined, fallback: number, allowed?: number[]): number {
    if (raw === undefined) return fallback;
    const n = /^\d+$/.test(raw.trim()) ? Number(raw) : NaN;
    if (!Number.isInteger(n) || n < 1 || n > 3653 || (allowed && !allowed.includes(n))) {
      this.report(key, allowed ? `must be one of CloudWatch's retention periods (${allowed.join(", ")}), got "${raw}"` : `must be whole days from 1 to 3653, got "${raw}"`);
      return fallback;
    }
    return n;
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
      if (typeof n !== "number" || !Number.isFinite(n) || n < 0 || n > RESPONSE_DELAY_MAX_SECONDS) {
        this.report(key, `responseDelay must be seconds between 0 and ${RESPONSE_DELAY_MAX_SECONDS}, got ${JSON.stringify(fields.responseDelay)}`);
      } else responseDelay = n;
    }
    return { prefix, wadoUrl, logLevel, responseDelay };
  }

  upload(raw: string | undefined, taskMemoryMiB: number): UploadSettings {
    const key = "upload";
    const d = DEFAULTS.upload;
    const fields = this.object(key, raw, `{ partSizeMiB: 8, partConcurrency: 2, instanceConcurrency: 4 }`) ?? {};
    this.unknownFields(key, fields, ["partSizeMiB", "partConcurrency", "instanceConcurrency", "maxInstancesInFlight"]);
    const limited = (field: string, s: IntegerSetting, fallback = s.default) => this.integer(key, field, fields[field], fallback, s.min, s.max);
    const partSizeMiB = limited("partSizeMiB", UPLOAD_PART_SIZE_MIB, d.partSizeMiB);
    const partConcurrency = limited("partConcurrency", UPLOAD_PART_CONCURRENCY, d.partConcurrency);
    const instanceConcurrency = limited("instanceConcurrency", UPLOAD_INSTANCE_CONCURRENCY, d.instanceConcurrency);
    const upload = { partSizeMiB, partConcurrency };
    const appMemory = appMemoryMiB(taskMemoryMiB);
    const perInstance = uploadBufferMiB(partSizeMiB, partConcurrency);
    const budget =
      `${appMemory} MiB for the app container (task memory ${taskMemoryMiB} minus ${NGINX_MEMORY_MIB} for nginx), ` +
      `${APP_BASELINE_MIB} MiB of it for the process itself, ${perInstance} MiB per instance upload (partSizeMiB x (partConcurrency + 2))`;
    let maxInstancesInFlight: number;
    if (fields.maxInstancesInFlight === undefined) {
      maxInstancesInFlight = largestInFlight(upload, taskMemoryMiB);
      if (maxInstancesInFlight < 1) {
        this.report(key, `not even one instance upload fits: ${budget}; lower partSizeMiB or partConcurrency, or raise fargate.memory`);
        maxInstancesInFlight = 1;
      }
    } else {
      maxInstancesInFlight = limited("maxInstancesInFlight", MAX_INSTANCES_IN_FLIGHT);
      const worst = worstCaseMiB(upload, maxInstancesInFlight);
      if (worst > appMemory) {
        this.report(
          key,
          `maxInstancesInFlight ${maxInstancesInFlight} can need ${worst} MiB, more than the app container has: ${budget}; ` +
            `at most ${largestInFlight(upload, taskMemoryMiB)} fit, or raise fargate.memory`,
        );
      }
    }
    return { partSizeMiB, partConcurrency, instanceConcurrency, maxInstancesInFlight };
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
