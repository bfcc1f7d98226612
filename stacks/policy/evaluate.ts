// Runs the policy rules over a recorded stack, the way the Pulumi engine would during a
// preview: resource rules once per resource, stack rules once over all of them, with
// the policy-pack configuration of that stack applied.
import * as fs from "node:fs";
import * as path from "node:path";
import type {
  EnforcementLevel,
  PolicyPackConfig,
  PolicyResource,
  ResourceValidationArgs,
  ResourceValidationPolicy,
  StackValidationPolicy,
} from "@pulumi/policy";
import type { RecordedResource } from "../offline/record";

export type Policy = ResourceValidationPolicy | StackValidationPolicy;

export interface Violation {
  policy: string;
  enforcementLevel: EnforcementLevel;
  message: string;
  resource?: string;
}

export const POLICY_CONFIG_DIR = path.resolve(__dirname, "config");

/** The pack configuration CI passes for a stack (`--policy-pack-config`), if any. */
export function policyConfigFor(stack: string): PolicyPackConfig {
  const file = path.join(POLICY_CONFIG_DIR, `${stack}.json`);
  return fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, "utf8")) as PolicyPackConfig) : {};
}

class NotApplicable extends Error {}

/** What a resource rule is given about one resource, as the engine passes it. */
export function resourceValidationArgs(
  r: PolicyResource,
  getConfig: <T extends object>() => T,
  notApplicable: (reason?: string) => never,
): ResourceValidationArgs {
  return {
    type: r.type,
    props: r.props,
    urn: r.urn,
    name: r.name,
    opts: r.opts,
    provider: r.provider,
    stackTags: new Map(),
    isType: r.isType,
    asType: (cls: any) => (r.isType(cls) ? (r.props as any) : undefined),
    getConfig,
    notApplicable,
  };
}

export async function evaluatePolicies(
  recorded: RecordedResource[],
  policies: Policy[],
  config: PolicyPackConfig = {},
  packLevel: EnforcementLevel = "advisory",
): Promise<Violation[]> {
  const resources = toPolicyResources(recorded);
  const violations: Violation[] = [];

  for (const policy of policies) {
    const entry = config[policy.name];
    const level: EnforcementLevel =
      (typeof entry === "string" ? entry : entry?.enforcementLevel) ?? policy.enforcementLevel ?? packLevel;
    if (level === "disabled") continue;
    const settings = typeof entry === "object" ? entry : {};
    const getConfig = <T extends object>() => ({ ...schemaDefaults(policy), ...settings }) as T;
    const notApplicable = (reason?: string): never => {
      throw new NotApplicable(reason);
    };

    if ("validateStack" in policy) {
      try {
        await policy.validateStack({ resources, stackTags: new Map(), getConfig, notApplicable }, (message, urn) =>
          violations.push({ policy: policy.name, enforcementLevel: level, message, resource: nameOf(resources, urn) }),
        );
      } catch (err) {
        if (!(err instanceof NotApplicable)) throw err;
      }
      continue;
    }
    const validations = [policy.validateResource ?? []].flat();
    for (const r of resources) {
      for (const validate of validations) {
        try {
          await validate(
            resourceValidationArgs(r, getConfig, notApplicable),
            (message) => violations.push({ policy: policy.name, enforcementLevel: level, message, resource: r.name }),
          );
        } catch (err) {
          if (!(err instanceof NotApplicable)) throw err;
        }
      }
    }
  }
  return violations;
}

function toPolicyResources(recorded: RecordedResource[]): PolicyResource[] {
  const byRef = new Map<string, RecordedResource>();
  for (const r of recorded) if (r.type.startsWith("pulumi:providers:")) byRef.set(`${r.urn}::${r.id}`, r);
  const byId = new Map<string, PolicyResource>();

  const resources: PolicyResource[] = recorded.map((r) => {
    const provider = byRef.get(r.provider);
    return {
      type: r.type,
      name: r.name,
      urn: r.urn,
      props: { ...r.inputs, id: r.id },
      opts: {
        protect: r.options.protect ?? false,
        ignoreChanges: r.options.ignoreChanges ?? [],
        aliases: [],
        customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 },
        additionalSecretOutputs: [],
      },
      provider: provider && { type: provider.type, name: provider.name, urn: provider.urn, props: provider.inputs },
      dependencies: [],
      propertyDependencies: {},
      isType: (cls: any) => cls?.__pulumiType === r.type,
      asType: () => undefined,
    };
  });
  resources.forEach((res) => byId.set(String(res.props.id), res));
  // The mocks hand out distinct ids, so an input equal to another resource's id is a reference to it.
  for (const res of resources) {
    for (const [prop, value] of Object.entries(res.props)) {
      if (prop === "id" || typeof value !== "string") continue;
      const target = byId.get(value);
      if (target && target !== res) {
        res.propertyDependencies[prop] = [target];
        res.dependencies.push(target);
      }
    }
  }
  return resources;
}

function nameOf(resources: PolicyResource[], urn: string | undefined): string | undefined {
  return urn === undefined ? undefined : (resources.find((r) => r.urn === urn)?.name ?? urn);
}

function schemaDefaults(policy: Policy): Record<string, unknown> {
  const props = policy.configSchema?.properties ?? {};
  return Object.fromEntries(
    Object.entries(props)
      .filter(([, schema]) => (schema as any).default !== undefined)
      .map(([key, schema]) => [key, (schema as any).default]),
  );
}
