// The stacks of a project: one per Pulumi.<stack>.yaml (or .yml) file in its directory.
import * as fs from "node:fs";

const STACK_FILE = /^Pulumi\.(.+)\.ya?ml$/;

/** Stack names with a Pulumi.<stack>.yaml in rootDir, sorted. */
export function stackNames(rootDir: string): string[] {
  return fs
    .readdirSync(rootDir)
    .map((f) => STACK_FILE.exec(f)?.[1])
    .filter((s): s is string => s !== undefined)
    .sort();
}

/** The stack a file name is for ("Pulumi.staging.yaml" -> "staging"), or undefined. */
export function stackOfFileName(fileName: string): string | undefined {
  return STACK_FILE.exec(fileName)?.[1];
}
