// The request id (Hono's requestId middleware, in front of every route in app.ts): honoured when
// safe, made up otherwise, echoed in every answer, early refusals included.
import pino from "pino";
import { describe, expect, it } from "vitest";
import { createApp } from "../app.js";
import { loadConfig } from "../config.js";
import { createMetrics } from "../metrics.js";
import type { ServiceContext } from "../service-context.js";
import type { S3Target } from "../storage/s3-target.js";
import { Semaphore } from "../util/semaphore.js";

function routes() {
  const svc: ServiceContext = {
    config: loadConfig({ S3_BUCKET: "dicom" }),
    log: pino({ level: "silent" }),
    metrics: createMetrics(),
    // Never reached: every request here is refused before its body is read.
    storage: {} as S3Target,
    instanceSlots: new Semaphore(1),
    shuttingDown: false,
    activeRequests: 0,
  };
  return createApp(svc);
}

// Refused before the body is read: no acceptable response type.
const refused = (headers: Record<string, string>) => routes().request("/studies", { method: "POST", headers: { Accept: "text/plain", ...headers } });

describe("X-Request-Id", () => {
  it("echoes a client's id made of word characters, '-' and '='", async () => {
    const res = await refused({ "X-Request-Id": "f3a9-Req_42=" });
    expect(res.status).toBe(406);
    expect(res.headers.get("x-request-id")).toBe("f3a9-Req_42=");
  });

  it.each([["has spaces"], ["new\\line"], ["x".repeat(129)], ["semi;colon"]])("replaces an unsafe id (%s) with a fresh one", async (bad) => {
    const res = await refused({ "X-Request-Id": bad });
    expect(res.headers.get("x-request-id")).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  });

  it("makes one up when there is none, different for every request, also for a bad study UID in the path", async () => {
    const a = await refused({});
    const b = await routes().request("/studies/1.2.x", { method: "POST" });
    expect(b.status).toBe(400);
    expect(a.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
    expect(b.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
    expect(a.headers.get("x-request-id")).not.toBe(b.headers.get("x-request-id"));
  });
});
