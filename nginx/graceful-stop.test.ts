// How the front stops, under real nginx before a recording stand-in for the app. ECS stops
// a container with SIGTERM (whatever the image's STOPSIGNAL says), and nginx alone takes
// SIGTERM as "fast shutdown". The entrypoint turns it into SIGQUIT, nginx's graceful stop:
// no new connections, requests in flight finish, bounded by SHUTDOWN_TIMEOUT_SECONDS.
import { createHash, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { send } from "./testing/client.js";
import { startFront, type FrontHandle } from "./testing/front.js";
import { isListening } from "./testing/net.js";
import { startRecordingUpstream, type RecordingUpstream } from "./testing/upstream.js";
import { until } from "./testing/wait.js";

let upstream: RecordingUpstream;
const fronts: FrontHandle[] = [];

beforeAll(async () => {
  upstream = await startRecordingUpstream();
});

afterAll(async () => {
  await Promise.all(fronts.map((f) => f.stop()));
  await upstream?.stop();
});

async function front(env: Record<string, string> = {}): Promise<FrontHandle> {
  const handle = await startFront({ env: { AUTH_MODE: "anonymous", CERT_MODE: "ACM", UPSTREAM: `127.0.0.1:${upstream.port}`, ...env } });
  fronts.push(handle);
  return handle;
}

const MIB = 1 << 20;

/** An 8 MiB upload whose first MiB has reached the app; the rest is sent when asked. */
async function uploadInFlight(f: FrontHandle, path: string) {
  const tls = { ca: readFileSync(join(f.outDir, "tls", "certificate.crt"), "utf8") };
  const chunks = Array.from({ length: 8 }, () => randomBytes(MIB));
  const body = new PassThrough();
  const outcome = send(`${f.url}${path}`, { method: "POST", headers: { "content-length": 8 * MIB }, body, tls }).then(
    (r) => ({ status: r.status, error: undefined }),
    (e: Error) => ({ status: 0, error: e.message }),
  );
  body.write(chunks[0]);
  await until(() => upstream.inProgress().includes(path) && upstream.bytesInFlight() >= MIB / 2, "the app to receive the first MiB");
  return {
    outcome,
    sha256: createHash("sha256").update(Buffer.concat(chunks)).digest("hex"),
    /** The other 7 MiB, slowly: one every 100 ms. */
    async sendRest() {
      for (const chunk of chunks.slice(1)) {
        if (body.destroyed) return;
        body.write(chunk);
        await new Promise((r) => setTimeout(r, 100));
      }
      body.end();
    },
    abandon: () => body.destroy(),
  };
}

/** Whether TCP connections to both of the front's ports are refused within `ms`. */
async function refusesConnections(f: FrontHandle, ms = 5_000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (!(await isListening(f.port)) && !(await isListening(f.healthPort))) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe("stopping the front", () => {
  it("SIGTERM to the entrypoint: new connections refused at once, the upload in flight finishes with 200, then exit 0", async () => {
    const f = await front();
    const nginx = f.nginxPid();
    const upload = await uploadInFlight(f, "/drain/graceful");

    process.kill(f.pid, "SIGTERM");
    expect(await refusesConnections(f)).toBe(true);
    expect(alive(nginx)).toBe(true);
    await upload.sendRest();

    expect(await upload.outcome).toEqual({ status: 200, error: undefined });
    const seen = upstream.requests.filter((r) => r.url === "/drain/graceful");
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ bytes: 8 * MIB, sha256: upload.sha256 });
    expect(await f.exited).toBe(0);
    expect(alive(nginx)).toBe(false);
    expect(f.output()).toContain("gracefully shutting down");
  });

  it("closes what is still in flight after SHUTDOWN_TIMEOUT_SECONDS, then exits", async () => {
    const f = await front({ SHUTDOWN_TIMEOUT_SECONDS: "2" });
    const upload = await uploadInFlight(f, "/drain/stalled");
    const signalled = Date.now();
    process.kill(f.pid, "SIGTERM");
    expect(await refusesConnections(f)).toBe(true);
    // The sender goes quiet; nginx's body timeout (60 s) would wait much longer than the bound.
    const outcome = await upload.outcome;
    const code = await f.exited;
    const seconds = (Date.now() - signalled) / 1000;
    expect(outcome.status).toBe(0);
    expect(code).toBe(0);
    expect(seconds).toBeGreaterThanOrEqual(1.5);
    expect(seconds).toBeLessThan(20);
    upload.abandon();
  });

  it("for contrast, SIGTERM straight to nginx (as `exec nginx` had it) cuts the upload in flight", async () => {
    const f = await front();
    const upload = await uploadInFlight(f, "/drain/fast");
    process.kill(f.nginxPid(), "SIGTERM");
    const outcome = await upload.outcome;
    expect(outcome.status).toBe(0);
    expect(outcome.error).toMatch(/socket hang up|ECONNRESET/);
    expect(await f.exited).toBe(0);
    expect(upstream.requests.filter((r) => r.url === "/drain/fast")).toHaveLength(0);
    upload.abandon();
  });
});
