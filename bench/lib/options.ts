// Benchmark options: each one a --flag or a BENCH_* environment variable (the flag wins), with a
// default, validated before anything starts.
import { parseArgs } from "node:util";

export type OptionSpec =
  | { kind: "int"; env: string; default: number; min: number; help: string }
  | { kind: "bool"; env: string; default: boolean; help: string }
  | { kind: "string"; env: string; default: string; help: string };

type ValueOf<S extends OptionSpec> = S extends { kind: "int" } ? number : S extends { kind: "bool" } ? boolean : string;
export type OptionValues<T extends Record<string, OptionSpec>> = { [K in keyof T]: ValueOf<T[K]> };

export class OptionError extends Error {}

export function parseOptions<T extends Record<string, OptionSpec>>(
  specs: T,
  argv: string[] = process.argv.slice(2),
  env: NodeJS.ProcessEnv = process.env,
): OptionValues<T> & { help: boolean } {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      help: { type: "boolean" },
      ...Object.fromEntries(Object.entries(specs).map(([name, s]) => [name, { type: s.kind === "bool" ? "boolean" : "string" } as const])),
    },
  });
  const out: Record<string, unknown> = { help: values.help === true };
  for (const [name, spec] of Object.entries(specs)) {
    const flag = (values as Record<string, string | boolean | undefined>)[name];
    const raw = flag ?? env[spec.env];
    if (raw === undefined || raw === "") {
      out[name] = spec.default;
    } else if (spec.kind === "bool") {
      out[name] = typeof raw === "boolean" ? raw : ["1", "true", "yes", "on"].includes(String(raw).toLowerCase());
    } else if (spec.kind === "int") {
      if (!/^\d+$/.test(String(raw)) || Number(raw) < spec.min) {
        throw new OptionError(`--${name} (${spec.env}): expected a whole number >= ${spec.min}, got "${raw}"`);
      }
      out[name] = Number(raw);
    } else out[name] = String(raw);
  }
  return out as OptionValues<T> & { help: boolean };
}

export function usage(command: string, specs: Record<string, OptionSpec>): string {
  const rows = Object.entries(specs).map(([name, s]) => [`--${name}${s.kind === "bool" ? "" : s.kind === "int" ? " N" : "=VALUE"}`, s.env, String(s.default), s.help]);
  const w = [0, 1, 2].map((i) => Math.max(...rows.map((r) => r[i]!.length)));
  return [`usage: ${command} [options]`, ...rows.map((r) => `  ${r[0]!.padEnd(w[0]!)}  ${r[1]!.padEnd(w[1]!)}  default ${r[2]!.padEnd(w[2]!)}  ${r[3]}`)].join("\n");
}
