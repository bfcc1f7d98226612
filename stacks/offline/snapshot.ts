// The committed form of a recorded stack: stable, and readable in a pull request diff.
import * as fs from "node:fs";
import * as path from "node:path";
import { recordStackFile, urnName, type RecordedResource, type RecordedStack } from "./record";
import type { StackFile } from "./stack-file";

export const SNAPSHOT_DIR = path.resolve(__dirname, "..", "snapshots");

export function snapshotPath(stack: string): string {
  return path.join(SNAPSHOT_DIR, `${stack}.json`);
}

export interface Snapshot {
  stack: string;
  resources: (Pick<RecordedResource, "type" | "name" | "provider" | "inputs"> & {
    options?: RecordedResource["options"];
    /** Names of the resources the program orders this one after (explicit dependsOn). */
    dependsOn?: string[];
  })[];
  outputs: Record<string, unknown>;
}

/**
 * Policies and container definitions are JSON text inside the inputs; they are
 * expanded here so a changed permission or variable shows up as a one-line diff.
 */
export function toSnapshot(recorded: RecordedStack): Snapshot {
  return {
    stack: recorded.stack,
    resources: recorded.resources.map((r) => ({
      type: r.type,
      name: r.name,
      provider: r.provider,
      inputs: expandJsonText(redactSecrets(r)) as Record<string, unknown>,
      ...(Object.keys(r.options).length > 0 ? { options: r.options } : {}),
      ...(r.dependsOn.length > 0 ? { dependsOn: dependsOnNames(r) } : {}),
    })),
    outputs: recorded.outputs,
  };
}

/** Inputs with every secret one replaced, as `pulumi preview` shows them. */
export function redactSecrets(r: Pick<RecordedResource, "inputs" | "secretInputs">): Record<string, unknown> {
  const inputs = { ...r.inputs };
  for (const k of r.secretInputs ?? []) if (k in inputs) inputs[k] = "[secret]";
  return inputs;
}

/** The explicit dependsOn of a resource as resource names, as `npm run plan -- --json` prints them. */
export function dependsOnNames(r: Pick<RecordedResource, "dependsOn">): string[] {
  return r.dependsOn.map(urnName);
}

export function formatSnapshot(snapshot: Snapshot): string {
  return `${JSON.stringify(snapshot, null, 2)}\n`;
}

function expandJsonText(value: unknown): unknown {
  if (typeof value === "string" && /^\s*[[{]/.test(value)) {
    try {
      return expandJsonText(JSON.parse(value));
    } catch {
      return value;
    }
  }
  if (Array.isArray(value)) return value.map(expandJsonText);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, expandJsonText(v)]));
  }
  return value;
}

/** The one command that (re)writes a stack's snapshot. */
export function snapshotCommand(stack: string): string {
  return `npm run plan -- ${stack} --write-snapshot`;
}

export interface SnapshotComparison {
  target: string;
  /** The snapshot the stack file records to now. */
  actual: string;
  /** The committed one; undefined when there is none. */
  committed?: string;
  /** What is wrong, naming the command that fixes it; undefined when they match. */
  problem?: string;
}

/** Records a stack file (secrets left encrypted) and compares it with its committed snapshot. */
export async function compareSnapshot(file: StackFile): Promise<SnapshotComparison> {
  const target = snapshotPath(file.stack);
  const actual = formatSnapshot(toSnapshot(await recordStackFile(file, { warnings: [] })));
  const shown = path.relative(path.resolve(SNAPSHOT_DIR, "..", ".."), target);
  if (!fs.existsSync(target)) {
    return { target, actual, problem: `no snapshot ${shown} for ${path.basename(file.file)}; write it with: ${snapshotCommand(file.stack)}` };
  }
  const committed = fs.readFileSync(target, "utf8");
  if (committed === actual) return { target, actual, committed };
  return { target, actual, committed, problem: `${shown} differs from what ${path.basename(file.file)} plans; after a deliberate change, rewrite it with: ${snapshotCommand(file.stack)}` };
}
