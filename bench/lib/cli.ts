// Running a benchmark as a command: options and --help, cleanup on SIGINT/SIGTERM and on errors,
// and the exit code (0 whether targets pass or not; 1 when something broke).
import { pathToFileURL } from "node:url";
import { parseOptions, usage, type OptionSpec, type OptionValues } from "./options.js";
import { stopAllStacks } from "./stack.js";

export interface CliOutcome {
  /** Things that went wrong (not stored, wrong bytes, errors); empty when the run is sound. */
  problems: string[];
}

export async function runCli<T extends Record<string, OptionSpec>>(
  command: string,
  specs: T,
  main: (opts: OptionValues<T>) => Promise<CliOutcome>,
): Promise<void> {
  let opts;
  try {
    opts = parseOptions(specs);
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${usage(command, specs)}\n`);
    process.exit(2);
  }
  if (opts.help) {
    process.stdout.write(usage(command, specs) + "\n");
    return;
  }
  const interrupted = (signal: NodeJS.Signals) => {
    process.stderr.write(`\n${signal}: stopping the store and the services\n`);
    void stopAllStacks().finally(() => process.exit(130));
  };
  process.once("SIGINT", interrupted);
  process.once("SIGTERM", interrupted);
  // Output piped into `head` must not kill the run halfway and strand its child processes.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on("error", (err: NodeJS.ErrnoException) => {
      if (err.code !== "EPIPE") throw err;
    });
  }
  try {
    const outcome = await main(opts);
    await stopAllStacks();
    if (outcome.problems.length) {
      process.stderr.write(`\nBROKEN: ${outcome.problems.length} problem(s):\n  ${outcome.problems.slice(0, 20).join("\n  ")}\n`);
      process.exit(1);
    }
    process.exit(0);
  } catch (err) {
    process.stderr.write(`\nbenchmark failed: ${(err as Error).stack ?? String(err)}\n`);
    await stopAllStacks();
    process.exit(1);
  }
}

/** The command line as typed (for the report), e.g. "npm run bench -- --instances 64". */
export function commandLine(script: string): string {
  const args = process.argv.slice(2);
  const viaNpm = process.env.npm_lifecycle_event === script;
  const base = viaNpm ? `npm run ${script}` : `node --import tsx ${process.argv[1]?.replace(process.cwd() + "/", "")}`;
  const env = Object.entries(process.env)
    .filter(([k]) => (k.startsWith("BENCH_") && k !== "BENCH_NETNS") || k.startsWith("UPLOAD_") || k === "MAX_INSTANCES_IN_FLIGHT" || k === "LOGLEVEL")
    .map(([k, v]) => `${k}=${v} `)
    .join("");
  return `${env}${base}${args.length ? (viaNpm ? " -- " : " ") + args.join(" ") : ""}`;
}

/** Whether the module with this URL is the script node was asked to run. */
export function isMain(moduleUrl: string): boolean {
  return process.argv[1] !== undefined && pathToFileURL(process.argv[1]).href === moduleUrl;
}
