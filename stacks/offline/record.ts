// Runs the Pulumi program in-process under runtime mocks and records every resource it
// registers: the offline plan, the snapshots and the tests all look at this record.
import * as pulumi from "@pulumi/pulumi";
import { loadConfig } from "../config";
import { createStack, type StackOutputs } from "../stack";
import { OfflineAwsMocks, unwrapSecrets } from "./mocks";
import type { StackFile } from "./stack-file";

export const PROJECT = "stowrs-to-s3";

export interface RecordedResource {
  type: string;
  name: string;
  /** Provider reference ("<urn>::<id>") for custom resources, "" when the default provider would be used. */
  provider: string;
  inputs: Record<string, unknown>;
  /** Resource options that change what `pulumi destroy` or `up` does; omitted when default. */
  options: {
    retainOnDelete?: true;
    protect?: true;
    ignoreChanges?: string[];
    providers?: Record<string, string>;
    customTimeouts?: { create?: string; update?: string; delete?: string };
  };
  /** URNs the resource waits for: explicit dependsOn and the resources its inputs come from. */
  dependencies: string[];
  /**
   * URNs of the resources the program named in `dependsOn`, exactly as it passed them: the
   * ordering the program asks for beyond what its inputs already imply.
   */
  dependsOn: string[];
  /** Inputs the program passed as secrets; shown as "[secret]" wherever the record is printed. */
  secretInputs: string[];
  urn: string;
  /** The id the mocks gave it; lets the offline policy run link settings to their bucket. */
  id: string;
  custom: boolean;
}

export interface RecordedStack {
  stack: string;
  resources: RecordedResource[];
  outputs: Record<string, unknown>;
  /** Data sources the program reads (invoke tokens, e.g. aws:index/getCallerIdentity:getCallerIdentity), sorted. */
  invokes: string[];
}

type Program = () => StackOutputs | Record<string, unknown>;

export interface RecordOptions {
  /** true: a preview (`pulumi preview`, the offline plan); false: an update (`pulumi up`). */
  dryRun?: boolean;
  /** Where relative file paths in config are resolved (the stack file's project directory). */
  projectDir?: string;
  /** Config keys to treat as set with --secret. */
  secretKeys?: string[];
  /** The exact paths of the values the stack file holds encrypted (offline reading; see ParseOptions). */
  secretPaths?: string[];
  /** Collects the program's warnings (pulumi.log.warn). */
  warnings?: string[];
}

/**
 * Records the program for a flat config map (`"stowrs-to-s3:appName" -> "dev"`).
 * Throws the program's own error (e.g. ConfigError) when it fails.
 */
export async function recordStack(
  stack: string,
  config: Record<string, string>,
  program?: Program,
  options: RecordOptions = {},
): Promise<RecordedStack> {
  const dryRun = options.dryRun ?? true;
  const run: Program =
    program ??
    (() =>
      createStack(
        loadConfig({
          projectDir: options.projectDir ?? process.cwd(),
          secretKeys: options.secretKeys ?? [],
          ...(options.secretPaths ? { secretPaths: options.secretPaths } : {}),
        }),
      ));
  // Same fallback as loadConfig, so mocked ARNs and zones match the configured region.
  const region = config["aws:region"] ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? "us-east-1";
  const captured = new Map<string, { options: RecordedResource["options"]; custom: boolean; secretInputs: string[]; dependencies: string[] }>();
  const recorded: RecordedResource[] = [];
  const mocks = new OfflineAwsMocks(region);
  const invokes = new Set<string>();

  // A throwing mock leaves the outputs that depend on it unresolved rather than failed,
  // so its message is kept here to explain the stall.
  const mockErrors: string[] = [];
  const noting = <T>(fn: () => T): T => {
    try {
      return fn();
    } catch (err) {
      mockErrors.push((err as Error).message);
      throw err;
    }
  };

  pulumi.runtime.setAllConfig(config, options.secretKeys ?? []);
  await pulumi.runtime.setMocks(
    {
      call: (args) => {
        invokes.add(args.token);
        return noting(() => mocks.call(args));
      },
      newResource: (args) => {
        const result = noting(() => mocks.newResource(args));
        recorded.push({
          type: args.type,
          name: args.name,
          provider: args.provider ?? "",
          inputs: plain(unwrapSecrets(args.inputs)),
          options: {},
          secretInputs: [],
          dependencies: [],
          dependsOn: [],
          urn: "",
          id: result.id,
          custom: args.custom ?? true,
        });
        return result;
      },
    },
    PROJECT,
    stack,
    dryRun,
  );
  // The mock interface does not pass resource options on, but the retained buckets and
  // ignored fields belong in the record, so read them off the registration request.
  const monitor = pulumi.runtime.getMonitor() as unknown as {
    registerResource(req: RegisterRequest, cb: (err: unknown, res: unknown) => void): Promise<void>;
  };
  const register = monitor.registerResource.bind(monitor);
  monitor.registerResource = (req, cb) => {
    const options: RecordedResource["options"] = {};
    if (req.getRetainondelete()) options.retainOnDelete = true;
    if (req.getProtect()) options.protect = true;
    if (req.getIgnorechangesList().length > 0) options.ignoreChanges = [...req.getIgnorechangesList()];
    const providers = Object.fromEntries(req.getProvidersMap().toArray());
    if (!req.getCustom() && Object.keys(providers).length > 0) options.providers = providers;
    const timeouts = req.getCustomtimeouts();
    if (timeouts) {
      const t = { create: timeouts.getCreate(), update: timeouts.getUpdate(), delete: timeouts.getDelete() };
      const set = Object.fromEntries(Object.entries(t).filter(([, v]) => v));
      if (Object.keys(set).length > 0) options.customTimeouts = set;
    }
    const dependencies = [...req.getDependenciesList()].sort();
    const object = req.getObject()?.toJavaScript() ?? {};
    const secretInputs = Object.keys(object).filter((k) => holdsSecret(object[k])).sort();
    captured.set(`${req.getType()}::${req.getName()}`, { options, custom: req.getCustom(), secretInputs, dependencies });
    return register(req, cb);
  };

  // Neither the mocks nor the registration request tell explicit dependsOn apart from the
  // dependencies inputs imply, so take the options the resource constructor hands to the
  // runtime (after any transformations), as the engine would receive them.
  const explicit = new Map<string, pulumi.ResourceOptions["dependsOn"]>();
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const runtimeResource = require("@pulumi/pulumi/runtime/resource") as {
    registerResource: (res: unknown, parent: unknown, t: string, name: string, ...rest: any[]) => void;
  };
  const registerResource = runtimeResource.registerResource;
  runtimeResource.registerResource = (res, parent, t, name, ...rest) => {
    const opts = rest[4] as pulumi.ResourceOptions | undefined;
    if (opts?.dependsOn !== undefined) explicit.set(`${t}::${name}`, opts.dependsOn);
    return registerResource(res, parent, t, name, ...rest);
  };

  const failures: unknown[] = [];
  const onRejection = (reason: unknown) => failures.push(reason);
  let onStall = () => {};
  // Node empties its event loop while we wait on something that can no longer happen.
  const stalled = new Promise<never>((_, reject) => {
    onStall = () =>
      reject(
        new Error(
          `the program stopped before all its outputs resolved` +
            (mockErrors.length ? `: ${[...new Set(mockErrors)].join("; ")}` : ""),
        ),
      );
  });
  process.on("unhandledRejection", onRejection);
  process.once("beforeExit", onStall);
  // Under mocks pulumi.log writes to the console; keep the program's warnings instead.
  const warn = pulumi.log.warn;
  (pulumi.log as { warn: (msg: string) => Promise<void> }).warn = async (msg: string) => {
    if (options.warnings) options.warnings.push(msg);
    else warn(msg);
  };
  let outputs: Record<string, unknown>;
  const explicitUrns = new Map<string, string[]>();
  try {
    const programOutputs = run();
    outputs = (await Promise.race([resolve(programOutputs), stalled])) as Record<string, unknown>;
    await Promise.race([settle(), stalled]);
    for (const [key, dependsOn] of explicit) explicitUrns.set(key, await Promise.race([dependsOnUrns(dependsOn), stalled]));
  } finally {
    runtimeResource.registerResource = registerResource;
    process.off("unhandledRejection", onRejection);
    process.off("beforeExit", onStall);
    (pulumi.log as { warn: typeof warn }).warn = warn;
  }
  if (failures.length > 0) throw failures[0];

  for (const r of recorded) {
    const extra = captured.get(`${r.type}::${r.name}`);
    if (extra) {
      r.options = extra.options;
      r.custom = extra.custom;
      r.secretInputs = extra.secretInputs;
      r.dependencies = extra.dependencies;
    }
    r.urn = `urn:pulumi:${stack}::${PROJECT}::${r.type}::${r.name}`;
    r.dependsOn = explicitUrns.get(`${r.type}::${r.name}`) ?? [];
  }
  recorded.sort((a, b) => (a.name === b.name ? a.type.localeCompare(b.type) : a.name.localeCompare(b.name)));
  return { stack, resources: recorded, outputs, invokes: [...invokes].sort() };
}

/** The name part of a URN (`urn:pulumi:<stack>::<project>::<type>::<name>`). */
export function urnName(urn: string): string {
  return urn.slice(urn.lastIndexOf("::") + 2);
}

/** URNs of the resources a `dependsOn` option names (a resource, a list, or outputs of either), sorted. */
async function dependsOnUrns(dependsOn: pulumi.ResourceOptions["dependsOn"]): Promise<string[]> {
  const value = await unwrapInput(dependsOn);
  const items = Array.isArray(value) ? value : [value];
  const urns: string[] = [];
  for (const item of items) {
    const resource = await unwrapInput(item);
    if (pulumi.Resource.isInstance(resource)) urns.push(await unwrapInput(resource.urn) as string);
  }
  return [...new Set(urns)].sort();
}

async function unwrapInput(value: unknown): Promise<unknown> {
  if (pulumi.Output.isInstance(value)) return (value as unknown as { promise(): Promise<unknown> }).promise();
  return value;
}

/**
 * Records the program for a stack file as the offline tools read it: its project directory
 * for relative paths, its secrets left encrypted (or `config`, when the rehearsal decrypted them).
 */
export function recordStackFile(
  file: Pick<StackFile, "stack" | "config" | "projectDir" | "secretKeys" | "secretPaths">,
  options: Omit<RecordOptions, "projectDir" | "secretKeys" | "secretPaths"> = {},
): Promise<RecordedStack> {
  return recordStack(file.stack, file.config, undefined, {
    ...options,
    projectDir: file.projectDir,
    secretKeys: file.secretKeys,
    secretPaths: file.secretPaths,
  });
}

interface RegisterRequest {
  getCustomtimeouts(): { getCreate(): string; getUpdate(): string; getDelete(): string } | undefined;
  getDependenciesList(): string[];
  getObject(): { toJavaScript(): Record<string, unknown> } | undefined;
  getType(): string;
  getName(): string;
  getCustom(): boolean;
  getRetainondelete(): boolean | undefined;
  getProtect(): boolean | undefined;
  getIgnorechangesList(): string[];
  getProvidersMap(): { toArray(): [string, string][] };
}

/** The marker Pulumi puts on a serialized secret value. */
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";

function holdsSecret(value: unknown): boolean {
  if (value === null || typeof value !== "object") return false;
  if ((value as Record<string, unknown>)["4dabf18193072939515e22adb298388d"] === SECRET_SIG) return true;
  return Object.values(value as Record<string, unknown>).some(holdsSecret);
}

/** Resolves Outputs (nested in objects) to plain values. */
async function resolve(value: unknown): Promise<unknown> {
  if (pulumi.Output.isInstance(value)) {
    // promise() rejects when the output fails; waiting on apply() would hang instead.
    return resolve(await (value as unknown as { promise(): Promise<unknown> }).promise());
  }
  if (Array.isArray(value)) return Promise.all(value.map(resolve));
  if (value !== null && typeof value === "object" && !pulumi.Resource.isInstance(value)) {
    const entries = await Promise.all(Object.entries(value).map(async ([k, v]) => [k, await resolve(v)] as const));
    return Object.fromEntries(entries);
  }
  return value;
}

/**
 * Waits until the runtime has no registration in flight. Pulumi chains every pending
 * RPC onto one promise; when it settles without a new link being added, we are done.
 */
async function settle(): Promise<void> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const state = require("@pulumi/pulumi/runtime/state") as { getStore(): { settings: { rpcDone: Promise<void> } } };
  for (;;) {
    const pending = state.getStore().settings.rpcDone;
    await pending;
    await new Promise((done) => setImmediate(done));
    if (pending === state.getStore().settings.rpcDone) return;
  }
}

/** Drops undefined and anything that is not JSON, so records compare and print cleanly. */
function plain(value: unknown): Record<string, unknown> {
  return JSON.parse(JSON.stringify(value ?? {}));
}
