// Helpers for the stack tests: build config maps, run the program (or one component)
// under the offline mocks, and pick resources out of the record.
import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";
import * as fs from "node:fs";
import { recordStack, type RecordedResource, type RecordedStack } from "../offline/record";

export const REGION = "eu-central-1";

/** The smallest valid configuration; tests override what they are about. */
export const BASE: Record<string, unknown> = {
  "aws:region": REGION,
  "stowrs-to-s3:appName": "stowrs-test",
  // Not a documentation range: those are placeholders, which `pulumi up` refuses.
  "stowrs-to-s3:allowedPeers": ["198.18.0.0/15"],
};

/** Flat Pulumi config map; objects become JSON text as the CLI passes them. */
export function configMap(overrides: Record<string, unknown> = {}, base: Record<string, unknown> = BASE): Record<string, string> {
  const merged: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(overrides)) {
    const key = k.includes(":") ? k : `stowrs-to-s3:${k}`;
    if (v === undefined) delete merged[key];
    else merged[key] = v;
  }
  return Object.fromEntries(
    Object.entries(merged).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)]),
  );
}

export function recordWith(overrides: Record<string, unknown> = {}, stack = "test"): Promise<RecordedStack> {
  return recordStack(stack, configMap(overrides));
}

/** Runs one component against an explicit provider, as the stack would. */
export async function recordComponent<T>(
  build: (opts: pulumi.CustomResourceOptions) => T,
): Promise<{ resources: RecordedResource[]; result: any }> {
  const recorded = await recordStack("test", configMap(), () => {
    const provider = new aws.Provider("test-aws", { region: REGION });
    return { result: build({ provider }) as unknown as Record<string, unknown> };
  });
  return { resources: recorded.resources, result: recorded.outputs.result };
}

export function ofType(resources: RecordedResource[], type: string): RecordedResource[] {
  return resources.filter((r) => r.type === type);
}

export function one(resources: RecordedResource[], type: string, name?: string): RecordedResource {
  const found = resources.filter((r) => r.type === type && (name === undefined || r.name === name));
  if (found.length !== 1) {
    throw new Error(`expected one ${type}${name ? ` named ${name}` : ""}, found ${found.map((r) => r.name).join(", ") || "none"}`);
  }
  return found[0];
}

/** Inputs that carry JSON documents (policies, container definitions) as text. */
export function json(value: unknown): any {
  if (typeof value !== "string") throw new Error(`expected JSON text, got ${JSON.stringify(value)}`);
  return JSON.parse(value);
}

export function inputs(r: RecordedResource): Record<string, any> {
  return r.inputs as Record<string, any>;
}

/** Environment of one container in a recorded task definition. */
export function containerEnv(resources: RecordedResource[], container: "app" | "nginx"): Record<string, string> {
  const task = one(resources, "aws:ecs/taskDefinition:TaskDefinition");
  const def = json(inputs(task).containerDefinitions).find((c: any) => c.name === container);
  return Object.fromEntries(def.environment.map((e: any) => [e.name, e.value]));
}

/**
 * Whether AWS resources of this type take tags: those whose provider schema has a
 * tags_all output, i.e. the ones the provider's default tags apply to.
 */
export function isTaggable(type: string): boolean {
  const m = /^aws:([^/]+)\/([^:]+):/.exec(type);
  if (!m) return false;
  const source = fs.readFileSync(require.resolve(`@pulumi/aws/${m[1]}/${m[2]}.js`), "utf8");
  return source.includes(`resourceInputs["tagsAll"]`);
}
