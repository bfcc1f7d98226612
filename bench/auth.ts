// `npm run bench:auth`: the CPU one request costs the bearer guard once the issuer's key is
// cached, per signing algorithm. A real OpenID provider (oidc-provider on 127.0.0.1) issues a
// client-credentials token; the service's own guard (app/src/auth, jose inside) checks it in
// front of a handler that does nothing, driven with Hono's app.request in this process. The same
// app without the guard is the baseline; the difference is what validation costs.
import { cpus } from "node:os";
import { Hono } from "hono";
import pino from "pino";
import { bearerGuard } from "../app/src/auth/bearer-guard.js";
import { startBearerAuth } from "../app/src/auth/bearer-auth.js";
import { loadConfig } from "../app/src/config.js";
import { createMetrics } from "../app/src/metrics.js";
import type { ServiceContext } from "../app/src/service-context.js";
import { makeSigningKey, startIssuer, type SigningAlgorithm } from "../app/test/support/oidc-issuer.js";
import { commandLine, isMain, runCli } from "./lib/cli.js";
import { ownCpuSeconds } from "./lib/cpu.js";
import type { OptionValues } from "./lib/options.js";
import { printReport, type Row, type Verdict } from "./lib/report.js";
import { percentile, round } from "./lib/stats.js";

export const AUTH_OPTIONS = {
  requests: { kind: "int", env: "BENCH_AUTH_REQUESTS", default: 10_000, min: 1, help: "requests per algorithm and round, with and without the guard" },
  warmup: { kind: "int", env: "BENCH_AUTH_WARMUP", default: 1_000, min: 1, help: "requests before measuring (JIT, key import)" },
  rounds: { kind: "int", env: "BENCH_AUTH_ROUNDS", default: 5, min: 1, help: "rounds; the median is reported, and guarded and bare take turns going first" },
} as const;

export type AuthOptions = OptionValues<typeof AUTH_OPTIONS>;
export const AUTH_TARGETS = { rs256CpuMs: 0.2 } as const;
const ALGORITHMS: SigningAlgorithm[] = ["RS256", "PS256", "ES256"];
const AUDIENCE = "https://stow.bench/dicomweb";

interface PerAlgorithm {
  algorithm: SigningAlgorithm;
  /** Median over the rounds of (guarded - bare) CPU ms per request: the guard's own cost. */
  cpuMsPerRequest: number;
  /** Each round's figure, for the spread. */
  rounds: number[];
  guardedCpuMsPerRequest: number;
  bareCpuMsPerRequest: number;
}

export interface AuthResult {
  bench: "auth";
  settings: Record<string, string | number | boolean>;
  algorithms: PerAlgorithm[];
  targets: { rs256: Verdict };
  problems: string[];
}

export async function runAuth(opts: AuthOptions): Promise<AuthResult> {
  const problems: string[] = [];
  const algorithms: PerAlgorithm[] = [];
  const bare = new Hono();
  bare.post("/studies", (c) => c.body(null, 204));
  for (const algorithm of ALGORITHMS) {
    const issuer = await startIssuer({ audience: AUDIENCE, keys: [await makeSigningKey(algorithm, `bench-${algorithm}`)] });
    const config = loadConfig({ OIDC_ISSUER: issuer.issuer, OIDC_AUDIENCE: AUDIENCE, METRICS_PORT: "0" });
    const log = pino({ level: "silent" });
    const auth = startBearerAuth(config.oidc!, log);
    try {
      const svc = { config, log, metrics: createMetrics(), tokens: auth } as unknown as ServiceContext;
      const guarded = new Hono();
      guarded.use("*", bearerGuard(svc, auth, config.oidc!.requiredScope));
      guarded.post("/studies", (c) => c.body(null, 204));
      const token = await issuer.token();
      const init = { method: "POST", headers: { authorization: `Bearer ${token}` } };
      const refused = await guarded.request("/studies", { method: "POST", headers: { authorization: `Bearer ${token}x` } });
      if (refused.status !== 401) problems.push(`${algorithm}: a token with a broken signature got ${refused.status}, not 401`);

      const measure = async (app: Hono, n: number): Promise<number> => {
        const before = ownCpuSeconds();
        for (let i = 0; i < n; i++) {
          const res = await app.request("/studies", init);
          if (res.status !== 204) {
            problems.push(`${algorithm}: request answered ${res.status}: ${await res.text()}`);
            return Number.NaN;
          }
        }
        return ((ownCpuSeconds() - before) * 1000) / n;
      };
      await measure(guarded, opts.warmup);
      await measure(bare, opts.warmup);
      const perRound: { guarded: number; bare: number }[] = [];
      for (let r = 0; r < opts.rounds; r++) {
        // Alternating who goes first keeps drift (other load, GC) from landing on one side.
        if (r % 2 === 0) perRound.push({ guarded: await measure(guarded, opts.requests), bare: await measure(bare, opts.requests) });
        else {
          const b = await measure(bare, opts.requests);
          perRound.push({ guarded: await measure(guarded, opts.requests), bare: b });
        }
      }
      const costs = perRound.map((p) => p.guarded - p.bare);
      algorithms.push({
        algorithm,
        cpuMsPerRequest: round(percentile(costs, 50), 4),
        rounds: costs.map((c) => round(c, 4)),
        guardedCpuMsPerRequest: round(percentile(perRound.map((p) => p.guarded), 50), 4),
        bareCpuMsPerRequest: round(percentile(perRound.map((p) => p.bare), 50), 4),
      });
    } finally {
      auth.close();
      await issuer.close();
    }
  }
  const rs256 = algorithms.find((a) => a.algorithm === "RS256")!;
  return {
    bench: "auth",
    settings: { requests: opts.requests, warmup: opts.warmup, rounds: opts.rounds, node: process.version, cpus: cpus().length },
    algorithms,
    targets: { rs256: { target: `RS256 validation <= ${AUTH_TARGETS.rs256CpuMs} ms CPU per request`, pass: rs256.cpuMsPerRequest <= AUTH_TARGETS.rs256CpuMs } },
    problems,
  };
}

export function authRows(r: AuthResult): Row[] {
  return r.algorithms.map((a) => ({
    figure: `${a.algorithm}: guard CPU per request (guarded ${a.guardedCpuMsPerRequest} - bare ${a.bareCpuMsPerRequest}; rounds ${a.rounds.join(", ")})`,
    value: `${a.cpuMsPerRequest} ms`,
    ...(a.algorithm === "RS256" ? { target: `<= ${AUTH_TARGETS.rs256CpuMs} ms`, pass: a.cpuMsPerRequest <= AUTH_TARGETS.rs256CpuMs } : { target: `(${AUTH_TARGETS.rs256CpuMs} ms is RS256's)` }),
  }));
}

export function printAuth(r: AuthResult, command: string, out: (s: string) => void): void {
  printReport(out, command, r, authRows(r));
}

if (isMain(import.meta.url)) {
  await runCli("npm run bench:auth --", AUTH_OPTIONS, async (opts) => {
    const result = await runAuth(opts);
    printAuth(result, commandLine("bench:auth"), (s) => process.stdout.write(s + "\n"));
    return result;
  });
}
