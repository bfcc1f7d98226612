// `npm run rehearse -- <stack> --drain`: a rollout or scale-in with an upload in flight, as
// ECS and the NLB do it. When a task is to stop, the NLB deregisters it: no new connections,
// the ones open go on for the deregistration delay; then ECS sends SIGTERM to every
// container and SIGKILL after its stopTimeout. An upload that outlasts the delay survives
// only if both containers drain after SIGTERM. This sends one, slowly, for longer than the
// planned delay, signals both processes when the delay is over, and checks the upload's
// answer, its object in the bucket, that nginx took no new connection, and that both exited.
import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { expectedKey } from "../../app/test/support/key-layout";
import { getObject } from "../../app/test/support/s3-objects";
import type { S3rverHandle } from "../../app/test/support/s3rver";
import type { FrontHandle } from "../../nginx/testing/front";
import { largeStowBody } from "../../nginx/testing/large";
import { isListening } from "../../nginx/testing/net";
import { sendStudies, type ClientTls } from "../smoke/stow-client";
import type { AppProcess } from "./containers";
import type { PlannedTask } from "./planned-task";

const MIB = 1 << 20;

interface Exit {
  at: number;
  code: number | null;
}
/** ECS's stopTimeout when a container definition gives none. */
const ECS_DEFAULT_STOP_TIMEOUT = 30;
/** The app's and nginx's SHUTDOWN_TIMEOUT_SECONDS when the task sets none. */
const DEFAULT_SHUTDOWN_TIMEOUT = 30;
/** The app's BODY_MIN_BYTES_PER_SECOND when the task sets none. */
const DEFAULT_BODY_MIN_BYTES_PER_SECOND = 1024;

export interface DrainTimings {
  deregistrationDelaySeconds: number;
  stopTimeout: { nginx: number; app: number };
  shutdownTimeout: { nginx: number; app: number };
  /** How long the upload goes on after SIGTERM: well inside every bound above. */
  afterSignalSeconds: number;
  uploadBytes: number;
}

/** The planned task's values, with ECS's and the containers' own defaults where it sets none. */
export function drainTimings(task: PlannedTask, env: { app: Record<string, string>; nginx: Record<string, string> }): DrainTimings {
  const stop = (name: string) => task.containers.find((c) => c.name === name)?.stopTimeout ?? ECS_DEFAULT_STOP_TIMEOUT;
  const seconds = (value: string | undefined, fallback: number) => (value !== undefined && /^\d+$/.test(value) ? Number(value) : fallback);
  const shutdownTimeout = {
    nginx: seconds(env.nginx.SHUTDOWN_TIMEOUT_SECONDS, DEFAULT_SHUTDOWN_TIMEOUT),
    app: seconds(env.app.SHUTDOWN_TIMEOUT_SECONDS, DEFAULT_SHUTDOWN_TIMEOUT),
  };
  const stopTimeout = { nginx: stop("nginx"), app: stop("app") };
  const tightest = Math.min(stopTimeout.nginx, stopTimeout.app, shutdownTimeout.nginx, shutdownTimeout.app);
  const afterSignalSeconds = Math.max(2, Math.min(10, Math.floor(tightest / 2)));
  const deregistrationDelaySeconds = task.deregistrationDelaySeconds;
  // Fast enough for the app's slow-sender cut (three times its minimum rate), and never under 8 MiB.
  const minRate = seconds(env.app.BODY_MIN_BYTES_PER_SECOND, DEFAULT_BODY_MIN_BYTES_PER_SECOND);
  const wanted = 3 * minRate * (deregistrationDelaySeconds + afterSignalSeconds);
  const uploadBytes = Math.max(8, Math.ceil(wanted / MIB)) * MIB;
  return { deregistrationDelaySeconds, stopTimeout, shutdownTimeout, afterSignalSeconds, uploadBytes };
}

export interface DrainRehearsal {
  task: PlannedTask;
  env: { app: Record<string, string>; nginx: Record<string, string> };
  url: string;
  tls: ClientTls;
  s3: S3rverHandle;
  bucket: string;
  prefix: string;
  front: FrontHandle;
  app: AppProcess;
  log: (line: string) => void;
  /**
   * Tests only. `delaySeconds`: instead of the planned deregistration delay, to keep a test
   * short. `signalNginxDirectly`: SIGTERM to nginx itself, as when the entrypoint still
   * exec'ed nginx, to show that the rehearsal then fails.
   */
  testing?: { delaySeconds?: number; signalNginxDirectly?: boolean };
}

export interface DrainOutcome {
  ok: boolean;
  /** One line: whether the upload ended with 200 and is in the bucket byte for byte, whether a new connection was refused. */
  summary: string;
}

export async function rehearseDrain(r: DrainRehearsal): Promise<DrainOutcome> {
  const t = drainTimings(r.task, r.env);
  const delay = r.testing?.delaySeconds ?? t.deregistrationDelaySeconds;
  const duration = delay + t.afterSignalSeconds;
  r.log(
    `drain: from the plan: NLB deregistration delay ${t.deregistrationDelaySeconds} s, stopTimeout nginx ${t.stopTimeout.nginx} s / app ${t.stopTimeout.app} s, ` +
      `SHUTDOWN_TIMEOUT_SECONDS nginx ${t.shutdownTimeout.nginx} s / app ${t.shutdownTimeout.app} s` +
      (delay !== t.deregistrationDelaySeconds ? `; this run waits ${delay} s instead of the delay (test setting)` : ""),
  );

  const boundary = `drain-${Date.now()}`;
  const large = largeStowBody(t.uploadBytes, boundary);
  const started = Date.now();
  const key = expectedKey(large, r.prefix);
  r.log(
    `drain: uploading one instance of ${(large.instanceBytes / MIB).toFixed(1)} MiB over ${duration} s; the rollout starts now: ` +
      `the NLB sends this task no new connections and keeps this one open for ${delay} s`,
  );
  const body = {
    body: paced(large.stream, large.length, duration * 1000),
    contentType: `multipart/related; type="application/dicom"; boundary=${boundary}`,
    length: large.length,
  };
  const answer = sendStudies(r.url, body, r.tls).then(
    (a) => ({ status: a.status, stored: a.stored, body: a.body, error: undefined as string | undefined }),
    (err: Error) => ({ status: 0, stored: [] as string[], body: "", error: err.message }),
  );
  const exits = {
    nginx: r.front.exited.then((code) => ({ at: Date.now(), code })),
    app: r.app.exited.then((code) => ({ at: Date.now(), code })),
  };

  await Promise.race([sleep(delay * 1000), answer]);
  const signalled = Date.now();
  const nginxTarget = r.testing?.signalNginxDirectly ? r.front.nginxPid() : r.front.pid;
  process.kill(nginxTarget, "SIGTERM");
  r.app.child.kill("SIGTERM");
  r.log(
    `drain: ${((signalled - started) / 1000).toFixed(1)} s in, SIGTERM to nginx ` +
      (r.testing?.signalNginxDirectly ? `itself (pid ${nginxTarget}), not to its entrypoint (test setting)` : `(entrypoint.sh, pid ${nginxTarget})`) +
      ` and to the app (pid ${r.app.child.pid}), as ECS does once the delay is over`,
  );

  const refused = await newConnectionRefused(r.front.port);
  r.log(`drain: a new connection to nginx after the signal: ${refused.text}`);

  const reply = await answer;
  const after = ((Date.now() - signalled) / 1000).toFixed(1);
  const uploadSeconds = ((Date.now() - started) / 1000).toFixed(0);
  let stored: { ok: boolean; text: string };
  if (reply.status === 200) {
    r.log(`drain: the upload finished ${after} s after the signal: HTTP 200, ${reply.stored.includes(large.sopInstanceUid) ? "instance acknowledged" : "instance NOT acknowledged"}`);
    stored = await inBucket(r, key, large.sha256(), reply.stored.includes(large.sopInstanceUid));
  } else {
    const what = reply.error ? `cut off (${reply.error})` : `answered HTTP ${reply.status}: ${reply.body.trim().slice(0, 200)}`;
    r.log(`drain: the upload was ${what}, ${after} s after the signal`);
    stored = { ok: false, text: `the upload was ${what}` };
  }
  if (stored.ok) r.log(`drain: ${r.bucket}/${key}: ${stored.text}`);

  const stopped = await bothExited(exits, signalled, t);
  r.log(`drain: ${stopped.text}`);

  const parts = [
    stored.ok ? "upload finished with HTTP 200 after SIGTERM and is in the bucket byte for byte" : stored.text,
    refused.ok ? "a new connection after the signal was refused" : `a new connection after the signal was NOT refused (${refused.text})`,
    ...(stopped.ok ? [] : [stopped.text]),
  ];
  const shape = stored.ok ? ` (${(large.instanceBytes / MIB).toFixed(0)} MiB over ${uploadSeconds} s, SIGTERM after ${delay} s)` : "";
  return { ok: stored.ok && refused.ok && stopped.ok, summary: `drain: ${parts.join("; ")}${shape}` };
}

/** The body's bytes spread evenly over `ms`, in 64 KiB slices. */
function paced(source: Readable, total: number, ms: number): Readable {
  const SLICE = 64 << 10;
  async function* slices() {
    const start = Date.now();
    let sent = 0;
    for await (const chunk of source as AsyncIterable<Buffer>) {
      for (let at = 0; at < chunk.length; at += SLICE) {
        const slice = chunk.subarray(at, at + SLICE);
        const due = start + ((sent + slice.length) / total) * ms;
        if (due > Date.now()) await sleep(due - Date.now());
        sent += slice.length;
        yield slice;
      }
    }
  }
  return Readable.from(slices(), { objectMode: false });
}

/** Polls until a TCP connection to the TLS port is refused, for at most 5 s. */
async function newConnectionRefused(port: number): Promise<{ ok: boolean; text: string }> {
  const from = Date.now();
  while (Date.now() - from < 5_000) {
    if (!(await isListening(port))) return { ok: true, text: `refused (${((Date.now() - from) / 1000).toFixed(2)} s after it)` };
    await sleep(50);
  }
  return { ok: false, text: "still accepted 5 s after it" };
}

async function inBucket(r: DrainRehearsal, key: string, sha256: string, acknowledged: boolean): Promise<{ ok: boolean; text: string }> {
  if (!acknowledged) return { ok: false, text: "the upload was answered HTTP 200 without acknowledging its instance" };
  const bytes = await getObject(r.s3.client, r.bucket, key);
  if (!bytes) return { ok: false, text: `the upload was answered HTTP 200 but ${r.bucket}/${key} does not exist` };
  const found = createHash("sha256").update(bytes).digest("hex");
  if (found !== sha256) return { ok: false, text: `the upload was answered HTTP 200 but ${r.bucket}/${key} differs from what was sent` };
  return { ok: true, text: `${(bytes.length / MIB).toFixed(1)} MiB, the upload byte for byte (sha256 ${sha256.slice(0, 16)}...)` };
}

/** Both processes gone within their stopTimeout from the signal; past it ECS would SIGKILL them. */
async function bothExited(exits: Record<"nginx" | "app", Promise<Exit>>, signalled: number, t: DrainTimings): Promise<{ ok: boolean; text: string }> {
  const results = await Promise.all(
    (["nginx", "app"] as const).map(async (name) => {
      const limit = t.stopTimeout[name];
      const exit = await Promise.race([exits[name], sleep(limit * 1000).then(() => undefined)]);
      if (!exit) return { ok: false, text: `${name} still running ${limit} s after SIGTERM (its stopTimeout: ECS would SIGKILL it)` };
      return { ok: true, text: `${name} exited ${exit.code} ${((exit.at - signalled) / 1000).toFixed(1)} s after SIGTERM (stopTimeout ${limit} s)` };
    }),
  );
  return { ok: results.every((x) => x.ok), text: results.map((x) => x.text).join(", ") };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
