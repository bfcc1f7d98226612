// Runs the planned containers on this machine the way ECS runs them in a task: the same
// entry points as the images (read from the Dockerfiles), the image's ENV with the task
// definition's environment over it, and the container dependencies and health checks of
// the plan. Only what cannot be the same on one machine is changed, and reported.
import { spawn, type ChildProcess } from "node:child_process";
import * as path from "node:path";
import { freePort } from "../../app/test/support/free-port";
import { startFront, type FrontHandle } from "../../nginx/testing/front";
import type { ContainerDefinition } from "../containers";
import { readDockerfile } from "../dockerfile";

const REPO = path.resolve(__dirname, "../..");

export class ContainerFailure extends Error {}

export function envOf(container: ContainerDefinition): Record<string, string> {
  return Object.fromEntries(container.environment.map((e) => [e.name, e.value]));
}

export interface AppProcess {
  child: ChildProcess;
  /** The command line, as the image's CMD gives it. */
  command: string;
  output(): string;
  exited: Promise<number | null>;
  stop(): Promise<void>;
}

/** The image's CMD (`node --expose-gc app/dist/main.js`) from the build directory, with exactly `env` (and PATH). */
export function startApp(buildDir: string, env: Record<string, string>): AppProcess {
  const cmd = readDockerfile(path.join(REPO, "app/Dockerfile")).cmd;
  if (!cmd || cmd[0] !== "node") throw new ContainerFailure(`app/Dockerfile's CMD is ${JSON.stringify(cmd)}; the rehearsal runs node images only`);
  const child = spawn(process.execPath, cmd.slice(1), {
    cwd: buildDir,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout!.on("data", (d) => (output += d));
  child.stderr!.on("data", (d) => (output += d));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code, signal) => resolve(code ?? (signal ? 128 : null))));
  return {
    child,
    command: cmd.join(" "),
    output: () => output,
    exited,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Runs a container health check command (CMD form) once; true when it exits 0 in time. */
export function runHealthCheck(command: string[], env: Record<string, string>, timeoutSeconds: number): Promise<boolean> {
  if (command[0] !== "CMD") throw new ContainerFailure(`health check ${JSON.stringify(command)}: only the CMD form is rehearsed`);
  const [program, ...args] = command.slice(1);
  const executable = program === "node" ? process.execPath : program;
  return new Promise((resolve) => {
    const child = spawn(executable, args, { env: { PATH: process.env.PATH ?? "", ...env }, stdio: "ignore", timeout: timeoutSeconds * 1000 });
    child.once("error", () => resolve(false));
    child.once("exit", (code) => resolve(code === 0));
  });
}

/** nginx/entrypoint.sh (the image's ENTRYPOINT) with Debian's nginx; throws with render's and nginx's output when it does not come up. */
export async function startNginx(env: Record<string, string>): Promise<FrontHandle> {
  const entrypoint = readDockerfile(path.join(REPO, "nginx/Dockerfile")).entrypoint;
  if (!entrypoint || path.basename(entrypoint[0]) !== "entrypoint.sh") {
    throw new ContainerFailure(`nginx/Dockerfile's ENTRYPOINT is ${JSON.stringify(entrypoint)}; the rehearsal runs nginx/entrypoint.sh`);
  }
  try {
    return await startFront({ env });
  } catch (err) {
    const text = String((err as Error).message);
    const errors = text.split("\n").filter((l) => /ERROR|emerg|\[alert\]|\[crit\]/.test(l));
    throw new ContainerFailure(`nginx did not start: ${errors.length > 0 ? errors.join(" | ") : text.trim()}`);
  }
}

export { freePort };
