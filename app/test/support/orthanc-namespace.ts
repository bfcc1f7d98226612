// Test harness: runs an Orthanc scenario script whole inside a fresh loopback-only network
// namespace (Orthanc binds every interface) and reads the result line it prints. Used by the
// service's Orthanc test and by the front's (mTLS and oidc).
import { existsSync } from "node:fs";
import { afterAll, beforeAll, expect } from "vitest";
import { createLoopbackNamespace, type LoopbackNamespace } from "./netns.js";
import { DICOMWEB_PLUGIN, ORTHANC_BINARY } from "./orthanc.js";

export interface OrthancScenarioRun<T> {
  /** The scenario's result line, if it printed one. */
  result: T | undefined;
  /** Exit code, stdout and the end of stderr, for failure messages. */
  raw: string;
  /** Deletes the namespace (and whatever still runs in it). */
  remove(): void;
}

export async function runOrthancScenario<T>(opts: { namespace: string; script: string; cwd: string; timeoutMs: number; marker: string }): Promise<OrthancScenarioRun<T>> {
  // CI installs all of these; a missing one is a broken environment, not a reason to skip.
  expect(process.getuid?.(), "network namespaces need root").toBe(0);
  expect(existsSync(ORTHANC_BINARY), `${ORTHANC_BINARY} (Debian package orthanc)`).toBe(true);
  expect(existsSync(DICOMWEB_PLUGIN), `${DICOMWEB_PLUGIN} (Debian package orthanc-dicomweb)`).toBe(true);
  const ns: LoopbackNamespace = createLoopbackNamespace(opts.namespace);
  try {
    expect(ns.addresses(), "the namespace must reach nothing but loopback").toEqual(["127.0.0.1/8", "::1/128"]);
    const run = await ns.runScript(opts.script, opts.cwd, opts.timeoutMs);
    const raw = `exit ${run.code}\nstdout:\n${run.stdout}\nstderr:\n${run.stderr.slice(-4000)}`;
    const line = run.stdout.split("\n").find((l) => l.includes(`"marker":"${opts.marker}"`));
    return { result: line ? (JSON.parse(line) as T) : undefined, raw, remove: () => ns.remove() };
  } catch (err) {
    ns.remove();
    throw err;
  }
}

export interface OrthancScenarioResult {
  orthancLogTail: string[];
}

export interface OrthancScenarioHandle<T> {
  /** The scenario's result; undefined until it ran, or if it printed none. */
  readonly result: T | undefined;
  /** Exit code, stdout and the end of stderr. */
  readonly raw: string;
  /** `raw` and the end of Orthanc's log: the message for a failed expectation. */
  log(): string;
}

/**
 * Runs the scenario once in a beforeAll of the calling describe block, and deletes its
 * namespace in the afterAll. The namespace is named after `name` and this process, so runs
 * side by side do not meet.
 */
export function useOrthancScenario<T extends OrthancScenarioResult>(opts: { name: string; script: string; cwd: string; timeoutMs: number; marker: string }): OrthancScenarioHandle<T> {
  let run: OrthancScenarioRun<T> | undefined;
  beforeAll(async () => {
    run = await runOrthancScenario<T>({ namespace: `${opts.name}-${process.pid}`, script: opts.script, cwd: opts.cwd, timeoutMs: opts.timeoutMs, marker: opts.marker });
  }, opts.timeoutMs + 30_000);
  afterAll(() => run?.remove());
  return {
    get result() {
      return run?.result;
    },
    get raw() {
      return run?.raw ?? "";
    },
    log() {
      return `${this.raw}\nOrthanc log:\n${run?.result?.orthancLogTail.join("\n") ?? ""}`;
    },
  };
}
