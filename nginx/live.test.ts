// GET /live on the health port: the load balancer's target check. It must answer from nginx
// and the app together (the app's liveness, /health) and never from the app's readiness
// (/ready asks S3): a slow S3 must not turn every target unhealthy at once.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { send } from "./testing/client.js";
import { startFront, type FrontHandle } from "./testing/front.js";
import { freePort } from "./testing/net.js";
import { startRecordingUpstream, type RecordingUpstream } from "./testing/upstream.js";

let upstream: RecordingUpstream;
const fronts: FrontHandle[] = [];

beforeAll(async () => {
  upstream = await startRecordingUpstream();
});

afterAll(async () => {
  await Promise.all(fronts.map((f) => f.stop()));
  await upstream?.stop();
});

async function front(upstreamPort: number): Promise<FrontHandle> {
  const handle = await startFront({ env: { AUTH_MODE: "anonymous", CERT_MODE: "ACM", UPSTREAM: `127.0.0.1:${upstreamPort}` } });
  fronts.push(handle);
  return handle;
}

describe("the health port's /live", () => {
  it("asks the app's /health, not its /ready, and answers 200 while the app is not ready", async () => {
    const f = await front(upstream.port);
    upstream.readyStatus = 503;
    const before = upstream.requests.length;
    expect((await send(`${f.healthUrl}/live`)).status).toBe(200);
    expect(upstream.requests.slice(before).map((r) => [r.method, r.url])).toEqual([["GET", "/health"]]);
    expect((await send(`${f.healthUrl}/ready`)).status).toBe(503);
    upstream.readyStatus = 200;
  });

  it("answers 503 when the app does not answer, where nginx's own /health still says 200", async () => {
    const f = await front(await freePort());
    expect(await send(`${f.healthUrl}/live`)).toMatchObject({ status: 503, body: "The app behind nginx is not reachable.\n" });
    expect((await send(`${f.healthUrl}/health`)).status).toBe(200);
  });
});
