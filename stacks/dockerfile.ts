// Reads what the build-context test and the rehearsal need from a Dockerfile: what each
// COPY takes from the build context, and the final stage's ENV, ENTRYPOINT, CMD and VOLUMEs. Only
// the forms this repository's Dockerfiles use (exec-form ENTRYPOINT/CMD, ENV k=v).
import * as fs from "node:fs";

export interface Dockerfile {
  /** Source paths of COPY instructions that read the build context (not --from=stage). */
  contextSources: string[];
  /** ENV of the final stage, in order. */
  env: Record<string, string>;
  entrypoint?: string[];
  cmd?: string[];
  /** VOLUME paths of the final stage (JSON or plain form). */
  volumes: string[];
}

export function readDockerfile(file: string): Dockerfile {
  const lines = fs
    .readFileSync(file, "utf8")
    .replace(/\\\r?\n/g, " ")
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"));
  const result: Dockerfile = { contextSources: [], env: {}, volumes: [] };
  for (const line of lines) {
    const [instruction, ...rest] = line.split(/\s+/);
    const args = rest.join(" ");
    switch (instruction.toUpperCase()) {
      case "FROM":
        // ENV, ENTRYPOINT and CMD of earlier stages do not reach the image.
        result.env = {};
        result.entrypoint = undefined;
        result.cmd = undefined;
        result.volumes = [];
        break;
      case "VOLUME":
        result.volumes.push(...(args.startsWith("[") ? execForm(args, line) : args.split(/\s+/)));
        break;
      case "ENV":
        for (const m of args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("([^"]*)"|\S*)/g)) result.env[m[1]] = m[3] ?? m[2];
        break;
      case "ENTRYPOINT":
        result.entrypoint = execForm(args, line);
        break;
      case "CMD":
        result.cmd = execForm(args, line);
        break;
      case "COPY": {
        const words = args.split(/\s+/);
        if (words.some((w) => w.startsWith("--from="))) break;
        const paths = words.filter((w) => !w.startsWith("--"));
        result.contextSources.push(...paths.slice(0, -1));
        break;
      }
    }
  }
  return result;
}

function execForm(args: string, line: string): string[] {
  try {
    const parsed = JSON.parse(args);
    if (Array.isArray(parsed) && parsed.every((a) => typeof a === "string")) return parsed;
  } catch {
    /* fall through */
  }
  throw new Error(`only the exec form (JSON array) is understood: ${line}`);
}
