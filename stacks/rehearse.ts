// npm run rehearse -- <stack | path/to/Pulumi.<stack>.yaml> [--client-cert file --client-key file] [--drain] [--outputs file]
// Plans the stack offline, runs its task on this machine as ECS would, sends the
// dcm-samples through the front and reads them back; with --drain, then stops the task as a
// rollout does with an upload in flight (rehearsal/drain.ts). See stacks/README.md, "Rehearsal".
// The client certificate may also come as PEM text in REHEARSE_CLIENT_CERT/REHEARSE_CLIENT_KEY
// (a CI secret); passphrase-provider secrets are decrypted with PULUMI_CONFIG_PASSPHRASE(_FILE).
import * as fs from "node:fs";
import * as path from "node:path";
import { readOutputsFile } from "./certificate-renewal";
import { takeOption } from "./cli-options";
import { endLeftovers, killLeftoversNow } from "./rehearsal/leftovers";
import { rehearse, type RehearseOptions } from "./rehearsal/run";

const USAGE =
  "usage: npm run rehearse -- <stack | path/to/Pulumi.<stack>.yaml> [--client-cert <pem file> --client-key <pem file>] [--drain] [--outputs <file>]\n" +
  "  (or the PEM text in REHEARSE_CLIENT_CERT and REHEARSE_CLIENT_KEY)";

/** The client certificate from the flags, else from the environment; a string is a usage problem. */
export function clientFrom(certFile: string | undefined, keyFile: string | undefined, env: Record<string, string | undefined>, cwd: string): RehearseOptions["client"] | string {
  if ((certFile === undefined) !== (keyFile === undefined)) return "--client-cert and --client-key go together";
  if (certFile !== undefined && keyFile !== undefined) {
    try {
      return { cert: fs.readFileSync(path.resolve(cwd, certFile), "utf8"), key: fs.readFileSync(path.resolve(cwd, keyFile), "utf8"), origin: certFile };
    } catch (err) {
      return `cannot read the client certificate or key (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`;
    }
  }
  const cert = env.REHEARSE_CLIENT_CERT || undefined;
  const key = env.REHEARSE_CLIENT_KEY || undefined;
  if ((cert === undefined) !== (key === undefined)) return "REHEARSE_CLIENT_CERT and REHEARSE_CLIENT_KEY go together";
  if (cert === undefined || key === undefined) return undefined;
  if (!cert.includes("-----BEGIN CERTIFICATE-----") || !/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(key)) {
    return "REHEARSE_CLIENT_CERT and REHEARSE_CLIENT_KEY must hold PEM text (a certificate, and its unencrypted private key)";
  }
  return { cert, key, origin: "from REHEARSE_CLIENT_CERT (key: REHEARSE_CLIENT_KEY)" };
}

export async function main(argv: string[], cwd: string, env: Record<string, string | undefined> = process.env): Promise<number> {
  const args = [...argv];
  const certFile = takeOption(args, "--client-cert");
  const keyFile = takeOption(args, "--client-key");
  const outputsFile = takeOption(args, "--outputs");
  const drain = args.includes("--drain");
  if (drain) args.splice(args.indexOf("--drain"), 1);
  const client = clientFrom(certFile, keyFile, env, cwd);
  const deployedOutputs = outputsFile === undefined ? undefined : readOutputsFile(path.resolve(cwd, outputsFile));
  const problem = typeof client === "string" ? client : typeof deployedOutputs === "string" ? `--outputs ${deployedOutputs}` : undefined;
  if (args.length !== 1 || args[0].startsWith("--") || problem !== undefined) {
    process.stderr.write(`${problem !== undefined ? `${problem}\n` : ""}${USAGE}\n`);
    return 2;
  }
  const result = await rehearse({
    target: args[0],
    cwd,
    client: client as RehearseOptions["client"],
    env,
    drain,
    deployedOutputs: deployedOutputs as Record<string, unknown> | undefined,
    log: (line) => process.stdout.write(`${line}\n`),
  });
  return result.code;
}

/** The whole rehearsal's deadline (REHEARSE_TIMEOUT_SECONDS); a drain rehearsal of a 120 s stack takes about 5 minutes. */
export const DEFAULT_TIMEOUT_SECONDS = 900;

if (require.main === module) {
  // Whatever way the rehearsal ends (done, failed, its deadline, Ctrl-C, SIGTERM), nothing it
  // started keeps running, and stderr says so; stdout's last line stays the summary.
  const limit = Number(process.env.REHEARSE_TIMEOUT_SECONDS || DEFAULT_TIMEOUT_SECONDS);
  let ending = false;
  const end = async (code: number, why?: string) => {
    if (ending) return;
    ending = true;
    if (why) process.stderr.write(`rehearsal: ${why}: stopping everything it started\n`);
    process.stderr.write(`rehearsal: ${await endLeftovers()}\n`);
    // Exit once stdout has drained, so the summary is the last line even through a pipe.
    process.stdout.write("", () => {
      killLeftoversNow();
      process.exit(code);
    });
  };
  process.once("SIGINT", () => void end(130, "interrupted (SIGINT)"));
  process.once("SIGTERM", () => void end(143, "stopped (SIGTERM)"));
  if (!(limit > 0)) {
    process.stderr.write(`REHEARSE_TIMEOUT_SECONDS must be a positive number of seconds, got "${process.env.REHEARSE_TIMEOUT_SECONDS}"\n`);
    process.exit(2);
  }
  setTimeout(() => void end(1, `FAILED: not done after ${limit} s (REHEARSE_TIMEOUT_SECONDS)`), limit * 1000).unref();
  // npm runs scripts from the package root; INIT_CWD is where the user typed the command.
  main(process.argv.slice(2), process.env.INIT_CWD ?? process.cwd()).then((code) => end(code));
}
