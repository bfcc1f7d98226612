// npm run rehearse -- <stack | path/to/Pulumi.<stack>.yaml> [--client-cert file --client-key file] [--drain]
// Plans the stack offline, runs its task on this machine as ECS would, sends the
// dcm-samples through the front and reads them back; with --drain, then stops the task as a
// rollout does with an upload in flight (rehearsal/drain.ts). See stacks/README.md, "Rehearsal".
import { takeOption } from "./cli-options";
import { rehearse } from "./rehearsal/run";

const USAGE = "usage: npm run rehearse -- <stack | path/to/Pulumi.<stack>.yaml> [--client-cert <pem> --client-key <pem>] [--drain]";

export async function main(argv: string[], cwd: string): Promise<number> {
  const args = [...argv];
  const clientCert = takeOption(args, "--client-cert");
  const clientKey = takeOption(args, "--client-key");
  const drain = args.includes("--drain");
  if (drain) args.splice(args.indexOf("--drain"), 1);
  if (args.length !== 1 || args[0].startsWith("--") || (clientCert === undefined) !== (clientKey === undefined)) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  const result = await rehearse({ target: args[0], cwd, clientCert, clientKey, drain, log: (line) => process.stdout.write(`${line}\n`) });
  return result.code;
}

if (require.main === module) {
  // npm runs scripts from the package root; INIT_CWD is where the user typed the command.
  main(process.argv.slice(2), process.env.INIT_CWD ?? process.cwd()).then((code) => {
    // Exit once stdout has drained, so the summary is the last line even through a pipe.
    process.stdout.write("", () => process.exit(code));
  });
}
