// Methods other than POST on /studies and /studies/{StudyInstanceUID}: 405 with Allow (RFC 9110
// 15.5.6), OPTIONS with Allow; other paths keep their 404. Real HTTP against the real service.
import { request as httpRequest } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newUid } from "../../test/support/dicom.js";
import { startInProcessService } from "../../test/support/in-process.js";
import { listKeys } from "../../test/support/s3-objects.js";
import { startS3rver, type S3rverHandle } from "../../test/support/s3rver.js";
import type { RunningService } from "../server.js";

let s3: S3rverHandle;
let svc: RunningService;

beforeAll(async () => {
  s3 = await startS3rver();
  svc = await startInProcessService(s3);
});
afterAll(async () => {
  await svc?.shutdown();
  await s3?.stop();
});

/** node:http rather than fetch: fetch refuses some methods (CONNECT, TRACE) and hides a HEAD body. */
function send(method: string, path: string, body?: string): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; text: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${svc.url}${path}`, { method, headers: body === undefined ? {} : { "Content-Type": "application/json" } }, (res) => {
      let text = "";
      res.on("data", (d) => (text += d));
      res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, text }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

const paths = ["/studies", `/studies/${newUid()}`, "/studies/not-a-uid"];

describe("methods other than POST on the STOW-RS paths", () => {
  it.each(["GET", "PUT", "DELETE", "PATCH"].flatMap((m) => paths.map((p) => [m, p])))("answers %s %s with 405, Allow: POST, OPTIONS and a JSON error", async (method, path) => {
    const res = await send(method, path, method === "PUT" || method === "PATCH" ? "{}" : undefined);
    expect(res.status).toBe(405);
    expect(res.headers.allow).toBe("POST, OPTIONS");
    expect(res.headers["content-type"]).toMatch(/^application\/json/);
    expect(JSON.parse(res.text)).toEqual({ status: 405, error: expect.stringContaining(`${method} is not supported`) });
  });

  it.each(paths)("answers HEAD %s with 405 and Allow, without a body", async (path) => {
    const res = await send("HEAD", path);
    expect(res.status).toBe(405);
    expect(res.headers.allow).toBe("POST, OPTIONS");
    expect(res.text).toBe("");
  });

  it.each(paths)("answers OPTIONS %s with 204 and Allow, and no CORS headers", async (path) => {
    const res = await send("OPTIONS", path);
    expect(res.status).toBe(204);
    expect(res.headers.allow).toBe("POST, OPTIONS");
    expect(res.text).toBe("");
    expect(Object.keys(res.headers).filter((h) => h.startsWith("access-control-"))).toEqual([]);
  });

  it("writes nothing for any of them", async () => {
    expect(await listKeys(s3.client, s3.bucket)).toEqual([]);
  });

  it.each([
    ["GET", "/studies/1.2.3/series"],
    ["POST", "/studies/1.2.3/series/1.2.4"],
    ["DELETE", "/series"],
    ["GET", "/"],
  ])("keeps 404 for %s %s, a path this service does not have", async (method, path) => {
    const res = await send(method, path);
    expect(res.status).toBe(404);
    expect(res.headers.allow).toBeUndefined();
    expect(JSON.parse(res.text)).toMatchObject({ status: 404 });
  });
});
