// `npm run rehearse -- <stack>`: the deployment of one stack file, rehearsed on this
// machine. The stack is planned offline (as `npm run plan`), then its task runs as ECS
// would run it, behind a stand-in for S3 that holds exactly what the stack writes, and a
// client inside the allowed peers sends the dcm-samples through the front.
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { CreateBucketCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { expectedKey } from "../../app/test/support/key-layout";
import { getObject, listKeys } from "../../app/test/support/s3-objects";
import { startS3rver, type S3rverHandle } from "../../app/test/support/s3rver";
import type { FrontHandle } from "../../nginx/testing/front";
import { certificateSummary, ConfigError, isPlaceholderCa, parseConfig, usesBearerTokens, usesClientCertificates, type StackConfig } from "../config";
import { DEFAULT_METRICS_PORT } from "../../app/src/config";
import { deployedCertificateNotice } from "../certificate-renewal";
import { GENERATED_RENEWAL_HOURS } from "../certificates";
import { PORTS } from "../containers";
import { readDockerfile } from "../dockerfile";
import { recordStackFile } from "../offline/record";
import { readStackFile, StackFileError, type StackFile } from "../offline/stack-file";
import { checkStackSet } from "../offline/stack-set";
import { emptyCrl, issueClientCertificate, PLACEHOLDER_CA, throwawayCa, type CaFiles } from "./client-identity";
import { revealSecrets, SecretsProblem } from "./secrets";
import { buildApp } from "./app-build";
import { ContainerFailure, envOf, freePort, runHealthCheck, startApp, startNginx, type AppProcess } from "./containers";
import { rehearseDrain, type DrainRehearsal } from "./drain";
import { plannedTask, type PlannedTask } from "./planned-task";
import { readOnlyRootProblems, writtenPaths } from "./volumes";
import { startStandInIssuer, type StandInIssuer } from "./issuer";
import { loadSamples, type Sample } from "../smoke/samples";
import { storeInstances, type ClientTls } from "../smoke/stow-client";

const REPO = path.resolve(__dirname, "../..");
/** The rehearsal polls at this pace instead of the planned intervals (10-15 s), and says so. */
const POLL_MS = 500;

export interface RehearseOptions {
  target: string;
  cwd: string;
  /** A client certificate and its key (PEM text) that chain to the stack's truststore; `origin` says where they came from. */
  client?: { cert: string; key: string; origin: string };
  /** Where PULUMI_CONFIG_PASSPHRASE(_FILE) and AWS_REGION are read; default process.env. */
  env?: Record<string, string | undefined>;
  /** The deployed stack's outputs (`pulumi stack output --json`), for the generated certificate's renewal notice. */
  deployedOutputs?: Record<string, unknown>;
  log?: (line: string) => void;
  /**
   * Changes to a container's environment after planning. Only the tests use this, to
   * rehearse a task whose app or nginx fails.
   */
  faults?: { app?: Record<string, string>; nginx?: Record<string, string> };
  /** Then a rollout with an upload in flight: SIGTERM to both containers (drain.ts). */
  drain?: boolean;
  /** Tests only: see DrainRehearsal["testing"]. */
  drainTesting?: DrainRehearsal["testing"];
}

export interface RehearsalResult {
  code: number;
  lines: string[];
  /** The last line: success summary or the first thing that would break. */
  summary: string;
}

class Broken extends Error {}

export async function rehearse(options: RehearseOptions): Promise<RehearsalResult> {
  const lines: string[] = [];
  const log = (line: string) => {
    lines.push(line);
    options.log?.(line);
  };
  let stackName = options.target;
  const cleanup: (() => Promise<void>)[] = [];
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "rehearsal-"));
  cleanup.push(async () => fs.rmSync(tmp, { recursive: true, force: true }));
  try {
    // 1. Plan, as `npm run plan` does (secrets still encrypted), then with the secrets decrypted or stood in for.
    const env = options.env ?? process.env;
    let config: StackConfig;
    let task: PlannedTask;
    try {
      const file = readStackFile(options.target, options.cwd);
      stackName = file.stack;
      const parseOptions = (f: StackFile) => ({ stack: f.stack, projectDir: f.projectDir, secretKeys: f.secretKeys, secretPaths: f.secretPaths });
      const set = checkStackSet(file);
      let problems = set.problems;
      try {
        parseConfig(file.config, env, parseOptions(file));
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        problems = [...err.problems, ...problems];
      }
      if (problems.length > 0) throw new Broken(`the plan fails: ${problems.join("; ")}`);

      let revealed;
      try {
        revealed = revealSecrets(file, env, tmp);
      } catch (err) {
        if (err instanceof SecretsProblem) throw new Broken(err.message);
        throw err;
      }
      for (const line of revealed.lines) log(line);
      const real: StackFile = { ...file, config: revealed.config };
      try {
        config = parseConfig(real.config, env, parseOptions(real));
      } catch (err) {
        if (err instanceof ConfigError) throw new Broken(`with its secrets decrypted, the configuration fails: ${err.problems.join("; ")}`);
        throw err;
      }
      const warnings: string[] = [];
      const recorded = await recordStackFile(real, { warnings });
      task = plannedTask(recorded);
      log(`plan: ${path.relative(options.cwd, file.file) || file.file}: ${recorded.resources.length} resources, planned offline`);
      const deployed = options.deployedOutputs ? deployedCertificateNotice(options.deployedOutputs, new Date(), GENERATED_RENEWAL_HOURS) : undefined;
      for (const w of [...warnings, ...set.warnings, ...(deployed ? [deployed] : [])]) log(`plan: warning: ${w}`);
    } catch (err) {
      if (err instanceof ConfigError) throw new Broken(`the plan fails: ${err.problems.join("; ")}`);
      if (err instanceof StackFileError) throw new Broken(err.message);
      throw err;
    }

    for (const [name, ref] of Object.entries(config.images)) {
      log(`images: ${name} is the prebuilt ${ref} in the plan; the rehearsal runs this checkout's ${name}/Dockerfile entry point instead`);
    }
    const nginxDef = task.containers.find((c) => c.name === "nginx");
    const appDef = task.containers.find((c) => c.name === "app");
    if (!nginxDef || !appDef) throw new Broken(`the task needs containers nginx and app, has ${task.containers.map((c) => c.name).join(", ")}`);
    const outputs = task.outputs;
    const dicomBucket = String(outputs.dicomBucketName);
    const prefix = String(outputs.dicomPrefix ?? "");
    // Decided before the stand-in bucket is filled: a throwaway CA goes into its truststore copy.
    const identity = clientIdentity(config, task, options, tmp, log);

    // 2. The stand-in for S3: the stack's buckets, holding exactly the objects it writes.
    let s3: S3rverHandle;
    try {
      s3 = await startS3rver({ bucket: dicomBucket, dir: path.join(tmp, "s3") });
    } catch (err) {
      throw new Broken(`the S3 stand-in did not start: ${(err as Error).message}`);
    }
    cleanup.push(() => s3.stop());
    for (const bucket of task.buckets.filter((b) => b !== dicomBucket)) await s3.client.send(new CreateBucketCommand({ Bucket: bucket }));
    for (const o of task.objects) await s3.client.send(new PutObjectCommand({ Bucket: o.bucket, Key: o.key, Body: o.content }));
    log(
      `s3: stand-in (s3rver) at ${s3.endpoint} with buckets ${task.buckets.join(", ")}; objects written by the stack: ` +
        (task.objects.length ? task.objects.map((o) => `${o.bucket}/${o.key}`).join(", ") : "none"),
    );
    const standIn = {
      S3_ENDPOINT: s3.endpoint,
      S3_FORCE_PATH_STYLE: "true",
      // In ECS these come from the task role; the stand-in takes its own.
      AWS_ACCESS_KEY_ID: s3.env.AWS_ACCESS_KEY_ID,
      AWS_SECRET_ACCESS_KEY: s3.env.AWS_SECRET_ACCESS_KEY,
    };

    // 3. Ports move to free loopback ports; everything else is the plan's.
    const ports = { app: await freePort(), tls: await freePort(), health: await freePort(), metrics: await freePort() };
    const bearerTokens = usesBearerTokens(config.certificate.authMode);
    log(
      `ports: moved to free loopback ports: app ${PORTS.app} -> ${ports.app}, nginx TLS ${PORTS.tls} -> ${ports.tls}, ` +
        `health ${PORTS.health} -> ${ports.health}, app metrics ${DEFAULT_METRICS_PORT} -> ${ports.metrics}`,
    );
    // With bearer tokens, the issuer moves too: a stand-in provider on loopback issues the tokens.
    let issuer: StandInIssuer | undefined;
    if (bearerTokens && config.oidc) {
      try {
        issuer = await startStandInIssuer(config.oidc);
      } catch (err) {
        throw new Broken(`the stand-in token issuer did not start: ${(err as Error).message}`);
      }
      cleanup.push(() => issuer!.close());
      log(
        `oidc: issuer moved: ${config.oidc.issuer} -> ${issuer.url} (a stand-in oidc-provider on loopback, issuing ${issuer.algorithm} access tokens ` +
          `for audience ${config.oidc.audience} with scope ${config.oidc.requiredScope} by the client-credentials grant)`,
      );
    }
    // Read-only roots: what each container writes must be on its volumes; here each gets a temp directory.
    const planned = { app: { ...imageEnv("app"), ...envOf(appDef) }, nginx: { ...imageEnv("nginx"), ...envOf(nginxDef) } };
    const problems = [...readOnlyRootProblems(appDef, planned.app), ...readOnlyRootProblems(nginxDef, planned.nginx)];
    if (problems.length > 0) throw new Broken(problems.join("; "));
    const appTmp = path.join(tmp, "app-tmp");
    fs.mkdirSync(appTmp);
    const written = [...writtenPaths(nginxDef, planned.nginx), ...writtenPaths(appDef, planned.app)];
    log(
      `volumes: root file systems ${[nginxDef, appDef].map((c) => `${c.name} ${c.readonlyRootFilesystem ? "read-only" : "WRITABLE"}`).join(", ")}; ` +
        `${written.map((w) => `${w.container} writes ${w.label}=${w.path} (volume ${w.volume ?? "none"})`).join(", ")}; here: OUT_DIR and TMPDIR are temp directories`,
    );
    const appEnv = {
      ...planned.app,
      PORT: String(ports.app),
      // /metrics is on a loopback port of its own in every mode; it moves like the others.
      METRICS_PORT: String(ports.metrics),
      TMPDIR: appTmp,
      ...(issuer ? { OIDC_ISSUER: issuer.url } : {}),
      ...standIn,
      ...options.faults?.app,
    };
    const nginxEnv = {
      ...withoutOutDir(planned.nginx),
      UPSTREAM: `127.0.0.1:${ports.app}`,
      LISTEN: `127.0.0.1:${ports.tls}`,
      HEALTH_LISTEN: `127.0.0.1:${ports.health}`,
      ...standIn,
      ...options.faults?.nginx,
    };
    log(
      `env: app and nginx get their image's ENV and the task definition's environment; changed: PORT/LISTEN/HEALTH_LISTEN/UPSTREAM/METRICS_PORT (ports), ` +
        `${issuer ? "OIDC_ISSUER (the stand-in issuer), " : ""}S3_ENDPOINT, S3_FORCE_PATH_STYLE and AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (the stand-in instead of the task role), OUT_DIR, TMPDIR and ACCESS_LOG (temp files)`,
    );

    // 4. Containers in dependency order: those nginx depends on first, until their condition holds.
    let buildDir: string;
    try {
      buildDir = buildApp(log);
    } catch (err) {
      const e = err as { stdout?: Buffer; message: string };
      throw new Broken(`the app does not compile: ${String(e.stdout ?? e.message).trim().split("\n").slice(0, 5).join(" | ")}`);
    }
    const app = startApp(buildDir, appEnv);
    cleanup.push(() => app.stop());
    log(`app: started ${app.command} (image CMD), pid ${app.child.pid}`);
    await appHealthy(app, appDef, ports.app, appEnv, log);

    const waitsFor = nginxDef.dependsOn ?? [];
    for (const d of waitsFor) log(`nginx: dependsOn ${d.containerName} ${d.condition}: met`);
    let front: FrontHandle;
    try {
      front = await raceExit(startNginx(nginxEnv), app);
    } catch (err) {
      if (err instanceof ContainerFailure) throw new Broken(err.message);
      throw err;
    }
    cleanup.unshift(() => front.stop());
    log(`nginx: started nginx/entrypoint.sh (image ENTRYPOINT) with Debian's nginx: TLS on ${front.url}, health on ${front.healthUrl}`);

    // 5. The target group's health check, as the NLB polls it.
    await targetHealthy(task, front, app, log);

    // 6. A client inside allowedPeers sends the samples through the front.
    log(`client: allowedPeers ${config.allowedPeers.join(", ")} treated as including 127.0.0.1, where the rehearsal's client connects from`);
    const samples = loadSamples();
    const url = `https://127.0.0.1:${ports.tls}`;
    const tls = clientTls(config, task, identity, log);
    if (issuer) {
      const refused = await storeInstances(url, samples, tls).then(
        (a) => (a.status === 401 ? `HTTP 401, WWW-Authenticate: ${a.wwwAuthenticate ?? "(none)"}` : undefined),
        (err: Error) => `${err.message}`,
      );
      if (!refused || !refused.startsWith("HTTP 401")) throw new Broken(`oidc: a client without a token was not answered 401 (${refused ?? "it was let through"})`);
      log(`client: without a token: refused (${refused})`);
      try {
        tls.bearerToken = await issuer.token();
      } catch (err) {
        throw new Broken(`the stand-in issuer gave no token: ${(err as Error).message}`);
      }
      log(`client: access token from the stand-in issuer (client credentials, resource indicator ${issuer.resource}), sent as Authorization: Bearer`);
    }
    if (usesClientCertificates(config.certificate.authMode)) {
      const refused = await storeInstances(url, samples, { ...tls, cert: undefined, key: undefined }).then(
        (a) => (a.status >= 400 && a.status < 500 ? `HTTP ${a.status}: ${a.body.trim().split("\n")[0]}` : undefined),
        (err: Error) => `TLS: ${err.message}`,
      );
      if (!refused) throw new Broken(`${config.certificate.authMode}: a client without a certificate was let through`);
      log(`client: without a client certificate: refused (${refused})`);
    }
    let answer;
    try {
      answer = await raceExit(storeInstances(url, samples, tls), app);
    } catch (err) {
      throw new Broken(`STOW-RS through ${url} failed: ${(err as Error).message}`);
    }
    if (answer.nameWarning) {
      if (config.certificate.mode === "FROMS3" && config.certificate.source === "stack" && !config.certificate.server) {
        throw new Broken(`the generated server certificate does not cover the load balancer's name: ${answer.nameWarning}`);
      }
      log(`client: warning: ${answer.nameWarning} (clients must connect with a name the certificate covers)`);
    }
    if (answer.status !== 200) throw new Broken(`STOW-RS answered HTTP ${answer.status}: ${answer.body.slice(0, 300)}`);
    log(`client: POST ${url}/studies: HTTP 200, ${answer.stored.length} referenced, ${answer.failed.length} failed`);
    if (answer.serverCertificate?.verified) log(`client: server certificate sha256 ${answer.serverCertificate.sha256}`);

    // 7. Read back what landed in the stand-in DICOM bucket at the planned prefix.
    const stored = await readBack(s3, dicomBucket, prefix, samples, answer.stored);
    log(`s3: ${stored}/${samples.length} objects in ${dicomBucket} at ${prefix === "" ? "(no prefix)" : `${prefix}/`}..., byte for byte`);
    let summary = `rehearsal ${stackName}: ${stored}/${samples.length} instances stored through ${url} (${config.certificate.authMode}, ${certificateSummary(config.certificate)})`;
    if (options.drain) {
      log(summary);
      const env = { app: appEnv, nginx: nginxEnv };
      const drained = await rehearseDrain({ task, env, url, tls, s3, bucket: dicomBucket, prefix, front, app, log, testing: options.drainTesting });
      if (!drained.ok) throw new Broken(drained.summary);
      summary = `rehearsal ${stackName}: ${drained.summary}`;
    }
    log(summary);
    return { code: 0, lines, summary };
  } catch (err) {
    const reason = err instanceof Broken ? err.message : `unexpected failure: ${(err as Error)?.stack ?? String(err)}`;
    const summary = `rehearsal ${stackName}: FAILED: ${reason}`;
    log(summary);
    return { code: 1, lines, summary };
  } finally {
    for (const step of cleanup.reverse()) await step().catch(() => undefined);
  }
}

function imageEnv(container: "app" | "nginx"): Record<string, string> {
  return readDockerfile(path.join(REPO, container, "Dockerfile")).env;
}

function withoutOutDir(env: Record<string, string>): Record<string, string> {
  // The planned OUT_DIR (/run/front, a volume) is replaced by a temp directory the front's user owns.
  const { OUT_DIR: _outDir, ...rest } = env;
  return rest;
}

async function raceExit<T>(work: Promise<T>, app: AppProcess): Promise<T> {
  const exit = app.exited.then((code) => {
    throw new Broken(`the app exited with code ${code}: ${lastLines(app.output())}`);
  });
  return Promise.race([work, exit]);
}

function lastLines(text: string, n = 4): string {
  return text.trim().split("\n").slice(-n).join(" | ") || "(no output)";
}

/** The container health check of the plan, run as ECS runs it, until healthy or out of retries. */
async function appHealthy(app: AppProcess, def: { healthCheck?: any }, port: number, env: Record<string, string>, log: (l: string) => void) {
  const hc = def.healthCheck;
  if (!hc) return;
  // The command names the planned port; it runs against the moved one.
  const command = (hc.command as string[]).map((part) => part.replaceAll(`127.0.0.1:${PORTS.app}`, `127.0.0.1:${port}`));
  const budgetMs = (hc.startPeriod + hc.interval * hc.retries) * 1000;
  const deadline = Date.now() + budgetMs;
  for (;;) {
    if (app.child.exitCode !== null || app.child.signalCode !== null) {
      throw new Broken(`the app exited with code ${app.child.exitCode ?? app.child.signalCode}: ${lastLines(app.output())}`);
    }
    if (await runHealthCheck(command, env, hc.timeout)) {
      log(`app: HEALTHY (the task's health check, ${command.slice(1, 3).join(" ")} ..., polled every ${POLL_MS / 1000} s instead of ${hc.interval} s)`);
      return;
    }
    if (Date.now() > deadline) throw new Broken(`the app never became HEALTHY within ${budgetMs / 1000} s: ${lastLines(app.output())}`);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

async function targetHealthy(task: PlannedTask, front: FrontHandle, app: AppProcess, log: (l: string) => void) {
  const hc = task.healthCheck;
  if (hc.protocol !== "HTTP" || hc.port !== PORTS.health) {
    throw new Broken(`the target group checks ${hc.protocol}:${hc.port}, which the task does not serve (nginx's health port is ${PORTS.health})`);
  }
  const url = `${front.healthUrl}${hc.path}`;
  const deadline = Date.now() + hc.intervalSeconds * 1000 * (hc.healthyThreshold + 4);
  let streak = 0;
  let last = "";
  while (streak < hc.healthyThreshold) {
    if (app.child.exitCode !== null) throw new Broken(`the app exited with code ${app.child.exitCode}: ${lastLines(app.output())}`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(hc.timeoutSeconds * 1000) });
      last = `HTTP ${res.status} ${(await res.text()).trim().slice(0, 120)}`;
      streak = String(res.status) === hc.matcher ? streak + 1 : 0;
    } catch (err) {
      last = (err as Error).message;
      streak = 0;
    }
    if (streak >= hc.healthyThreshold) break;
    if (Date.now() > deadline) throw new Broken(`the target group's health check (GET ${hc.path} on ${PORTS.health}) never passed: last answer ${last}`);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  log(`nlb: target healthy: GET ${hc.path} on port ${hc.port} (moved) answered ${hc.matcher} ${hc.healthyThreshold} times in a row (every ${POLL_MS / 1000} s instead of ${hc.intervalSeconds} s)`);
}

function clientTls(config: StackConfig, task: PlannedTask, identity: { cert: string; key: string } | undefined, log: (l: string) => void): ClientTls {
  const tls: ClientTls = { serverName: String(task.outputs.nlbDnsName) };
  const cert = config.certificate;
  const planned = task.objects.find((o) => o.key === "certificate.crt")?.content;
  if (cert.mode === "ACM") {
    log("client: ACM: clients' TLS ends at the NLB with the ACM certificate, which the rehearsal cannot present; it connects to nginx as the NLB does, without checking nginx's certificate");
    return { insecure: true };
  }
  if (planned) {
    tls.pinnedCertificate = planned;
    log(`client: expects the server certificate the stack wrote (certificate.crt), for ${tls.serverName}`);
  } else {
    log("client: the stack writes no server certificate (external bucket): nginx's certificate is not checked");
    tls.insecure = true;
  }
  if (!usesClientCertificates(cert.authMode)) return tls;
  if (!identity) {
    throw new Broken(
      `${cert.authMode}: give --client-cert and --client-key (or REHEARSE_CLIENT_CERT and REHEARSE_CLIENT_KEY), a client certificate that chains to the truststore in your bucket`,
    );
  }
  tls.cert = identity.cert;
  tls.key = identity.key;
  return tls;
}

/** The client certificate for clientauth (undefined without client authentication), said out loud. */
function clientIdentity(config: StackConfig, task: PlannedTask, options: RehearseOptions, tmp: string, log: (l: string) => void): { cert: string; key: string } | undefined {
  const cert = config.certificate;
  if (!usesClientCertificates(cert.authMode)) return undefined;
  if (options.client) {
    log(`client: client certificate ${options.client.origin}`);
    return { cert: options.client.cert, key: options.client.key };
  }
  const truststore = task.objects.find((o) => o.key === "truststore.crt");
  // An external bucket's truststore is not the stack's to change: only the operator's certificate will do (clientTls says so).
  if (!truststore) return undefined;
  // A stack that admits listed subjects only gets one of them; one with revocation lists, a CRL of the issuing CA.
  const subject = config.certificateOptions.allowedClientSubjects[0];
  const crl = task.objects.find((o) => o.key === "crl.pem");
  const dir = fs.mkdtempSync(path.join(tmp, "client-"));
  const extras = (ca: CaFiles) => {
    if (crl) crl.content = `${crl.content.trimEnd()}\n${emptyCrl(dir, ca)}`;
    const said = [subject ? `subject ${subject} (the first of allowedClientSubjects)` : "", crl ? "an empty CRL of that CA added to the rehearsal's copy of crl.pem" : ""].filter(Boolean);
    return said.length > 0 ? `; ${said.join(", ")}` : "";
  };
  if (isPlaceholderCa(truststore.content)) {
    const extra = extras(PLACEHOLDER_CA);
    log(`client: client certificate issued now by the placeholder CA (stacks/examples), the truststore this stack writes${extra}`);
    return issueClientCertificate(dir, PLACEHOLDER_CA, subject);
  }
  const ca = throwawayCa(dir);
  // The stand-in bucket's copy only: the plan, and what `pulumi up` writes, trust your CA alone.
  truststore.content = `${truststore.content.trimEnd()}\n${ca.pem}`;
  log(
    "client: no client certificate given (--client-cert/--client-key, or REHEARSE_CLIENT_CERT/REHEARSE_CLIENT_KEY): a throwaway CA is " +
      `added to the rehearsal's copy of truststore.crt only (the stack writes your CA alone), and the client certificate is issued by it${extras(ca)}`,
  );
  return issueClientCertificate(dir, ca, subject);
}

async function readBack(s3: S3rverHandle, bucket: string, prefix: string, samples: Sample[], acknowledged: string[]): Promise<number> {
  const keys = (await listKeys(s3.client, bucket)).filter((k) => !/(^|\/)\.stowrs\//.test(k));
  // The tests' statement of the layout, not the service's objectKey, which is what is checked.
  const expected = samples.map((s) => expectedKey(s, prefix));
  const unexpected = keys.filter((k) => !expected.includes(k));
  if (unexpected.length > 0) throw new Broken(`objects outside the planned layout in ${bucket}: ${unexpected.join(", ")}`);
  let stored = 0;
  for (const s of samples) {
    const key = expectedKey(s, prefix);
    if (!acknowledged.includes(s.sopInstanceUid)) throw new Broken(`${path.basename(s.file)} (${s.sopInstanceUid}) was not acknowledged as stored`);
    if (!keys.includes(key)) throw new Broken(`${path.basename(s.file)} acknowledged but not at ${bucket}/${key}`);
    const bytes = await getObject(s3.client, bucket, key);
    if (!bytes || createHash("sha256").update(bytes).digest("hex") !== s.sha256) throw new Broken(`${bucket}/${key} differs from ${path.basename(s.file)}`);
    stored += 1;
  }
  return stored;
}
