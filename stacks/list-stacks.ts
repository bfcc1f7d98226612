// `npm run -s stacks [-- --json]`: the stacks of this project, one name a line (or one JSON
// array), read from the Pulumi.<stack>.yaml files beside Pulumi.yaml. The workflows take
// their job matrices from it, so a new environment is one stack file, not an edit of each
// workflow. Names go into job names, environment names and command lines, so only the
// characters Pulumi allows in a stack name are accepted (a file named otherwise is refused,
// named in the message, rather than skipped: CI would quietly stop covering it).
import { findProjectDir, listStacks } from "./offline/stack-file";

const USAGE = "usage: npm run -s stacks [-- --json]";
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** Stack names of the project in `projectDir`, sorted; throws naming every file whose stack name is not allowed. */
export function stackNames(projectDir: string): string[] {
  const names = listStacks(projectDir);
  const bad = names.filter((n) => !NAME.test(n));
  if (bad.length > 0) {
    throw new Error(
      bad.map((n) => `Pulumi.${n}.yaml: a stack name holds only letters, digits, "-", "_" and "." (and starts with a letter or digit)`).join("\n"),
    );
  }
  return names;
}

export function main(argv: string[], cwd: string): { code: number; stdout: string; stderr: string } {
  const unknown = argv.filter((a) => a !== "--json");
  if (unknown.length > 0) return { code: 2, stdout: "", stderr: `${unknown.map((a) => `unknown argument ${a}\n`).join("")}${USAGE}\n` };
  const projectDir = findProjectDir(cwd);
  if (!projectDir) return { code: 1, stdout: "", stderr: `no Pulumi.yaml found in ${cwd} or above\n` };
  let names: string[];
  try {
    names = stackNames(projectDir);
  } catch (err) {
    return { code: 1, stdout: "", stderr: `${(err as Error).message}\n` };
  }
  const stdout = argv.includes("--json") ? `${JSON.stringify(names)}\n` : names.map((n) => `${n}\n`).join("");
  return { code: 0, stdout, stderr: "" };
}

if (require.main === module) {
  const { code, stdout, stderr } = main(process.argv.slice(2), process.cwd());
  process.stdout.write(stdout);
  process.stderr.write(stderr);
  process.exitCode = code;
}
