// Typed stack configuration. Everything the program needs is read and checked here, in one
// pass, so a bad stack file produces the full list of problems at once instead of failing on
// the first key and again after each fix. Each block (its keys, types, defaults and checks)
// lives in a file of its own; this file lists them in reading order and assembles the rest.
//
// Adding a block: write stacks/config/<block>.ts exporting `defineBlock({ keys, defaults, read,
// placeholders })` (see block.ts), and add it to BLOCKS below after the blocks it reads from.
import * as pulumi from "@pulumi/pulumi";
import type { Placeholder } from "../placeholders";
import type { AnyBlock, BlockDefaults, BlockOutputs, OrderProblem } from "./block";
import { alarmsBlock } from "./alarms";
import { appBlock } from "./app";
import { appNameBlock } from "./app-name";
import { bucketEncryptionBlock, dicomBucketBlock } from "./buckets";
import { certificateBlock } from "./certificate";
import { auditTrailBlock, lifecycleBlock, objectLockBlock } from "./data-lifecycle";
import { eventsBlock } from "./events";
import { fargateBlock } from "./fargate";
import { imagesBlock } from "./images";
import { logsBlock } from "./logs";
import { allowedPeersBlock, vpcCidrBlock } from "./network";
import { oidcBlock } from "./oidc";
import { protectionBlock } from "./protection";
import { ConfigError, NAMESPACE, Reader, type ParseOptions } from "./reader";
import { regionBlock } from "./region";
import { tagsBlock } from "./tags";
import { uploadBlock } from "./upload";
import { accessBlock } from "./access";
import { certificateOptionsBlock } from "./certificate-options";
import { frontBlock } from "./front";
import { allowWorldIngressBlock, networkBlock } from "./network";

export { ConfigError, NAMESPACE, type ParseOptions } from "./reader";
export { AUTH_MODES, usesBearerTokens, usesClientCertificates, type AuthMode } from "./auth-mode";
export { certificateSummary, type CertificateConfig, type CertificateMode } from "./certificate";
export { isPlaceholderCa, type PemSource } from "./certificate-files";
export type { BucketEncryption } from "./buckets";
export type { OidcConfig } from "./oidc";
export type { FargateConfig } from "./fargate";
export type { AppSettings, LogLevel } from "./app";
export type { UploadSettings } from "./upload";
export { LOG_RETENTION_DAYS } from "./logs";
export { defaultAppName } from "./app-name";
export { OPAQUE_SECRET } from "./secrets";
export type { AlarmSettings } from "./alarms";
export { TRANSITION_STORAGE_CLASSES, type AuditTrailSettings, type LifecycleSettings, type ObjectLockSettings, type TransitionStorageClass } from "./data-lifecycle";
export type { EventSettings } from "./events";
export type { DuplicatePolicy } from "./app";
export type { CertificateOptions } from "./certificate-options";
export type { FrontConfig } from "./front";
export type { NetworkConfig } from "./network";

/** The blocks in reading order: a block's `earlier` comes from the blocks before it, problems come out in this order. */
const BLOCKS = [
  regionBlock,
  appNameBlock,
  vpcCidrBlock,
  dicomBucketBlock,
  bucketEncryptionBlock,
  certificateBlock,
  oidcBlock,
  allowedPeersBlock,
  fargateBlock,
  appBlock,
  uploadBlock,
  tagsBlock,
  imagesBlock,
  protectionBlock,
  logsBlock,
  alarmsBlock,
  lifecycleBlock,
  objectLockBlock,
  auditTrailBlock,
  eventsBlock,
  certificateOptionsBlock,
  frontBlock,
  accessBlock,
  networkBlock,
  allowWorldIngressBlock,
] as const;

// Fails to compile when a block is listed before one it reads from (the error names the value).
type MustBeNever<T extends never> = T;
export type BlockOrderIsValid = MustBeNever<OrderProblem<typeof BLOCKS>>;

export interface StackConfig extends BlockOutputs<typeof BLOCKS> {
  /** Values that stand in for real ones; plan and preview warn, `pulumi up` refuses. */
  placeholders: Placeholder[];
}

/** Keys of the stowrs-to-s3 namespace; anything else there is a typo worth reporting. */
export const KNOWN_KEYS: readonly string[] = (BLOCKS as readonly AnyBlock[]).flatMap((b) => b.keys);

/** Every block's defaults, by key (nested objects hold a block's field defaults). */
export const DEFAULTS = Object.assign({}, ...(BLOCKS as readonly AnyBlock[]).map((b) => b.defaults ?? {})) as BlockDefaults<typeof BLOCKS>;

// Placeholders are listed in this order (then any other block's, in reading order).
const PLACEHOLDER_ORDER = ["allowedPeers", "app", "oidc", "certificate"].map((k) => `${NAMESPACE}:${k}`);

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
    if (!KNOWN_KEYS.includes(key)) {
      problems.push(`${NAMESPACE}:${key}: unknown key (known keys: ${KNOWN_KEYS.join(", ")})`);
      continue;
    }
    own[key] = value;
  }
  const reader = new Reader(problems, opts, own, values, env);
  const config: Record<string, unknown> = {};
  for (const block of BLOCKS as readonly AnyBlock[]) Object.assign(config, block.read(reader, config));
  if (problems.length > 0) throw new ConfigError(problems);

  const found = (BLOCKS as readonly AnyBlock[]).flatMap((b) => b.placeholders?.(config) ?? []);
  const rank = (p: Placeholder) => {
    const i = PLACEHOLDER_ORDER.indexOf(p.key);
    return i === -1 ? PLACEHOLDER_ORDER.length : i;
  };
  const placeholders = found.map((p, i) => ({ p, i })).sort((a, b) => rank(a.p) - rank(b.p) || a.i - b.i).map(({ p }) => p);
  return { ...(config as unknown as BlockOutputs<typeof BLOCKS>), placeholders };
}
