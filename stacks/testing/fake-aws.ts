// A stand-in `aws` executable for the deploy-smoke tests: put its directory first on PATH and
// it records each call (argv as one JSON line) and answers `aws ec2 ...` from files the test
// writes, so the tests see exactly the commands the script would run against AWS.
import * as fs from "node:fs";
import * as path from "node:path";

export interface FakeAws {
  /** Prepend to PATH. */
  binDir: string;
  /** The recorded calls, oldest first (each the argv after `aws`). */
  calls(): string[][];
  /** stdout for `aws ec2 <command>`; exit 0. */
  answer(command: string, stdout: unknown): void;
  /** stderr and exit 254 for `aws ec2 <command>`, as the CLI fails on an API error. */
  fail(command: string, stderr: string): void;
  env(base?: NodeJS.ProcessEnv): NodeJS.ProcessEnv;
}

const SCRIPT = `#!/usr/bin/env node
const fs = require("node:fs");
const path = require("node:path");
const dir = process.env.FAKE_AWS_DIR;
const args = process.argv.slice(2);
fs.appendFileSync(path.join(dir, "calls.jsonl"), JSON.stringify(args) + "\\n");
const command = args[1] || "";
const failFile = path.join(dir, command + ".fail");
if (fs.existsSync(failFile)) {
  process.stderr.write(fs.readFileSync(failFile, "utf8"));
  process.exit(254);
}
const answerFile = path.join(dir, command + ".json");
process.stdout.write(fs.existsSync(answerFile) ? fs.readFileSync(answerFile, "utf8") : "{}");
`;

export function installFakeAws(dir: string): FakeAws {
  const binDir = path.join(dir, "bin");
  fs.mkdirSync(binDir, { recursive: true });
  fs.writeFileSync(path.join(binDir, "aws"), SCRIPT, { mode: 0o755 });
  const calls = path.join(dir, "calls.jsonl");
  return {
    binDir,
    calls: () => (fs.existsSync(calls) ? fs.readFileSync(calls, "utf8").trim().split("\n").filter(Boolean).map((l) => JSON.parse(l)) : []),
    answer: (command, stdout) => fs.writeFileSync(path.join(dir, `${command}.json`), typeof stdout === "string" ? stdout : JSON.stringify(stdout)),
    fail: (command, stderr) => fs.writeFileSync(path.join(dir, `${command}.fail`), stderr),
    env: (base = process.env) => ({ ...base, PATH: `${binDir}${path.delimiter}${base.PATH ?? ""}`, FAKE_AWS_DIR: dir }),
  };
}
