// The metric filters' patterns against the lines the real service prints: the service runs as
// a process (JSON logs on stdout, LOGLEVEL INFO as the stacks deploy it) in front of a real S3
// server reached through a proxy that can fail S3 requests; each situation an alarm is about is
// brought about, and the filters must count exactly those lines. Patterns are evaluated with
// stacks/testing/log-filter-pattern.ts (the subset of CloudWatch's syntax the filters use).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildInstance, newUid } from "../app/test/support/dicom";
import { startFaultyS3Proxy, type FaultyS3Proxy } from "../app/test/support/faulty-s3-proxy";
import { multipartBody, multipartContentType } from "../app/test/support/multipart";
import { piecewisePost } from "../app/test/support/piecewise-client";
import { startS3rver, type S3rverHandle } from "../app/test/support/s3rver";
import { startServiceProcess, type ServiceHandle } from "../app/test/support/service";
import { postStow } from "../app/test/support/stow-client";
import { createLogMetrics, LOG_METRICS, metricNamespace, type LogMetricName } from "./log-metrics";
import { matchesFilterPattern, metricValue } from "./testing/log-filter-pattern";
import { inputs, ofType, recordComponent } from "./testing/harness";

const B = "log-metrics-boundary";
let s3: S3rverHandle;
let proxy: FaultyS3Proxy;
let service: ServiceHandle;

beforeAll(async () => {
  s3 = await startS3rver();
  proxy = await startFaultyS3Proxy(() => s3.port);
  service = await startServiceProcess({
    ...s3.env,
    S3_ENDPOINT: proxy.endpoint,
    // One slot, so a second request while one is admitted meets the capacity 503.
    MAX_INSTANCES_IN_FLIGHT: "1",
    S3_MAX_ATTEMPTS: "2",
    S3_REQUEST_TIMEOUT_SECONDS: "2",
  });
});
afterAll(async () => {
  await service?.stop();
  await proxy?.close();
  await s3?.stop();
});

const instance = () => buildInstance({ studyUid: newUid(), seriesUid: newUid(), sopInstanceUid: newUid(), pixels: 1024 });
const store = (parts: Buffer[]) => postStow(service.url, multipartBody(parts, B), B);

/** The service's JSON log records printed since `from` (an earlier logRecords().length). */
const since = (from: number) => service.logRecords().slice(from);
/** Those with this message (stdout arrives a little after the answer). */
const records = (msg: string, from: number) => since(from).filter((r) => r.msg === msg);
const printed = (msg: string, from: number, n: number) => expect.poll(() => records(msg, from).length, { timeout: 10_000 }).toBeGreaterThanOrEqual(n);

/** What a metric filter would add up over the lines printed since `from`. */
function counted(name: LogMetricName, from: number): { lines: number; sum: number } {
  const m = LOG_METRICS[name];
  const matching = since(from).filter((event) => matchesFilterPattern(m.pattern, event));
  return { lines: matching.length, sum: matching.reduce((n, event) => n + metricValue(m.value, event), 0) };
}

describe("the log metric filters against the service's own lines", () => {
  it("count nothing for stored instances and requests refused for other reasons", async () => {
    const from = service.logRecords().length;
    expect((await store([instance(), instance()])).status).toBe(200);
    // A request refused before its body (415) is a "request rejected" line, but not a capacity one.
    const wrongType = await fetch(`${service.url}/studies`, { method: "POST", headers: { "Content-Type": "text/plain" }, body: "x" });
    expect(wrongType.status).toBe(415);
    await printed("store request", from, 1);
    await printed("request rejected", from, 1);
    expect(counted("refusedInstances", from)).toEqual({ lines: 0, sum: 0 });
    expect(counted("capacityRejections", from)).toEqual({ lines: 0, sum: 0 });
    expect(counted("s3Unavailable", from)).toEqual({ lines: 0, sum: 0 });
  });

  it("RefusedInstances adds up the instances a request failed", async () => {
    const from = service.logRecords().length;
    const notDicom = Buffer.from("this part is not a DICOM instance at all, just some text of decent length ".repeat(8));
    const res = await store([instance(), notDicom, notDicom]);
    expect(res.status).toBe(202);
    await printed("store request", from, 1);
    expect(counted("refusedInstances", from)).toEqual({ lines: 1, sum: 2 });
    expect(counted("s3Unavailable", from).lines).toBe(0);
  });

  it("CapacityRejections counts the 503 of a request that found every slot taken", async () => {
    const from = service.logRecords().length;
    const body = multipartBody([buildInstance({ studyUid: newUid(), seriesUid: newUid(), sopInstanceUid: newUid(), pixels: 200_000 })], B);
    // The first request holds the only slot once its instance's header is in, while the rest of its body trickles in.
    const holder = piecewisePost(`${service.url}/studies`, multipartContentType(B));
    await holder.write(body.subarray(0, 40_000));
    await expect.poll(async () => (await store([instance()])).status, { timeout: 10_000 }).toBe(503);
    await holder.write(body.subarray(40_000));
    holder.end();
    expect((await holder.answer).status).toBe(200);
    await printed("store request", from, 1);
    const c = counted("capacityRejections", from);
    expect(c.lines).toBeGreaterThanOrEqual(1);
    expect(c.sum).toBe(c.lines);
    expect(counted("refusedInstances", from).lines).toBe(0);
  });

  it("S3UnavailableRequests counts a request whose instance failed because S3 kept answering 503", async () => {
    const from = service.logRecords().length;
    proxy.addRule({ match: (r) => r.operation === "PutObject", fault: { kind: "error", status: 503, code: "SlowDown" } });
    try {
      const res = await store([instance()]);
      expect(res.status).toBe(409);
    } finally {
      proxy.clearRules();
    }
    await printed("store request", from, 1);
    expect(counted("s3Unavailable", from)).toEqual({ lines: 1, sum: 1 });
    // The instance it cost is also a refused one.
    expect(counted("refusedInstances", from)).toEqual({ lines: 1, sum: 1 });
  });
});

describe("createLogMetrics", () => {
  it("puts one filter per metric on the app's log group, in the deployment's namespace", async () => {
    const { resources, result } = await recordComponent((opts) => createLogMetrics({ appName: "st", appLogGroupName: "/st/ecs/app" }, opts));
    const filters = ofType(resources, "aws:cloudwatch/logMetricFilter:LogMetricFilter");
    expect(filters.map((f) => inputs(f).pattern).sort()).toEqual(Object.values(LOG_METRICS).map((m) => m.pattern).sort());
    for (const f of filters) {
      expect(inputs(f).logGroupName).toBe("/st/ecs/app");
      expect(inputs(f).metricTransformation).toMatchObject({ namespace: "stowrs-to-s3/st", unit: "Count" });
    }
    expect(result.namespace).toBe(metricNamespace("st"));
  });
});
