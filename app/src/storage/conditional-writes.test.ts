// Deciding whether the store honours If-None-Match: against real stores that do and do not, and
// (mocked client) against the answers a probe can get when something is wrong.
import { ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3";
import pino from "pino";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { openUploads } from "../../test/support/s3-objects.js";
import { startS3rver, type S3rverHandle } from "../../test/support/s3rver.js";
import { ConditionalWrites, PROBE_KEY_NAME, PROBE_RETRY_MS, conditionRefusal } from "./conditional-writes.js";

const log = pino({ level: "silent" });

describe("probing real stores", () => {
  let withConditions: S3rverHandle;
  let plain: S3rverHandle;
  beforeAll(async () => {
    [withConditions, plain] = await Promise.all([startS3rver(), startS3rver({ conditionalWrites: false })]);
  });
  afterAll(async () => {
    await Promise.all([withConditions?.stop(), plain?.stop()]);
  });

  const probeOf = (s3: S3rverHandle, prefix = "") =>
    new ConditionalWrites({ setting: "auto", onAws: false, client: s3.client, bucket: s3.bucket, prefix, log });

  async function keys(s3: S3rverHandle): Promise<string[]> {
    const out = await s3.client.send(new ListObjectsV2Command({ Bucket: s3.bucket }));
    return (out.Contents ?? []).map((o) => o.Key!);
  }

  it("finds a store that refuses the second conditional write, and deletes its probe object", async () => {
    const cw = probeOf(withConditions, "site-a");
    expect(cw.usable()).toBe(false); // not known yet: uploads take the HEAD path meanwhile
    expect(await cw.probe()).toBe("supported");
    expect(cw.usable()).toBe(true);
    expect(cw.completionsUsable()).toBe(true);
    expect(await keys(withConditions)).not.toContain(`site-a/${PROBE_KEY_NAME}`);
    expect(await openUploads(withConditions.dir, withConditions.bucket, `site-a/${PROBE_KEY_NAME}`)).toEqual([]);
  });

  it("finds a store that honours the condition on PutObject but ignores it on CompleteMultipartUpload", async () => {
    // The real store, behind a client that drops the header from completions only.
    const send = withConditions.client.send.bind(withConditions.client);
    const strip = {
      send: (cmd: any) => {
        if (cmd.constructor.name === "CompleteMultipartUploadCommand") delete cmd.input.IfNoneMatch;
        return send(cmd);
      },
    };
    const cw = new ConditionalWrites({ setting: "auto", onAws: false, client: strip as unknown as S3Client, bucket: withConditions.bucket, prefix: "site-b", log });
    expect(await cw.probe()).toBe("supported");
    expect(cw.usable()).toBe(true);
    expect(cw.completionsUsable()).toBe(false);
    expect(await keys(withConditions)).not.toContain(`site-b/${PROBE_KEY_NAME}`);
  });

  it("finds a store that ignores the condition, and never calls it supported", async () => {
    const cw = probeOf(plain);
    expect(await cw.probe()).toBe("unsupported");
    expect(cw.usable()).toBe(false);
    expect(cw.completionsUsable()).toBe(false);
    expect(await keys(plain)).not.toContain(PROBE_KEY_NAME);
  });

  it("counts a probe object left by an earlier start as proof of support", async () => {
    const first = probeOf(withConditions);
    // Leave the object behind, as a start without s3:DeleteObject would.
    const send = withConditions.client.send.bind(withConditions.client);
    const keepObject = { send: (cmd: any) => (cmd.constructor.name === "DeleteObjectCommand" ? Promise.reject(new Error("denied")) : send(cmd)) };
    const leaving = new ConditionalWrites({ setting: "auto", onAws: false, client: keepObject as unknown as S3Client, bucket: withConditions.bucket, prefix: "", log });
    expect(await leaving.probe()).toBe("supported");
    expect(await keys(withConditions)).toContain(PROBE_KEY_NAME);
    expect(await first.probe()).toBe("supported");
    expect(await keys(withConditions)).not.toContain(PROBE_KEY_NAME);
  });
});

describe("settings and failed probes", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  function fakeClient(answers: Array<() => Promise<unknown>>) {
    const send = vi.fn(async (cmd: { constructor: { name: string } }) => {
      if (cmd.constructor.name === "DeleteObjectCommand") return {};
      const next = answers.shift();
      if (!next) throw new Error("unexpected request");
      return next();
    });
    return { client: { send } as unknown as S3Client, puts: () => send.mock.calls.filter(([c]) => c.constructor.name === "PutObjectCommand").length };
  }
  const s3Error = (status: number, name: string) => () => Promise.reject(Object.assign(new Error(name), { name, $metadata: { httpStatusCode: status } }));
  const ok = () => Promise.resolve({});

  it("on and off are taken as said, and auto trusts Amazon S3, without a request", async () => {
    const { client, puts } = fakeClient([]);
    const make = (setting: "auto" | "on" | "off", onAws: boolean) => new ConditionalWrites({ setting, onAws, client, bucket: "b", prefix: "", log });
    expect(make("on", false).usable()).toBe(true);
    expect(make("off", true).usable()).toBe(false);
    expect(make("auto", true).usable()).toBe(true);
    expect(make("auto", true).completionsUsable()).toBe(true);
    expect(make("on", false).completionsUsable()).toBe(true);
    expect(make("off", true).completionsUsable()).toBe(false);
    expect(await make("off", false).probe()).toBe("unsupported");
    expect(puts()).toBe(0);
  });

  it("a store that answers 501 NotImplemented does not support the condition", async () => {
    const { client } = fakeClient([s3Error(501, "NotImplemented")]);
    expect(await new ConditionalWrites({ setting: "auto", onAws: false, client, bucket: "b", prefix: "", log }).probe()).toBe("unsupported");
  });

  it("a probe without a clear answer (403, store down) stays unknown and is asked again only after PROBE_RETRY_MS", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const { client, puts } = fakeClient([s3Error(403, "AccessDenied"), s3Error(503, "ServiceUnavailable"), ok, s3Error(412, "PreconditionFailed")]);
    const cw = new ConditionalWrites({ setting: "auto", onAws: false, client, bucket: "b", prefix: "", log });
    expect(await cw.probe()).toBe("unknown");
    expect(cw.usable()).toBe(false);
    expect(await cw.probe()).toBe("unknown");
    expect(puts()).toBe(1);
    vi.advanceTimersByTime(PROBE_RETRY_MS + 1);
    expect(await cw.probe()).toBe("unknown");
    expect(puts()).toBe(2);
    vi.advanceTimersByTime(PROBE_RETRY_MS + 1);
    expect(await cw.probe()).toBe("supported");
    expect(puts()).toBe(4);
  });

  it("a refusal counts only if the probe object is really there", async () => {
    const notFound = s3Error(404, "NotFound");
    const blind = fakeClient([s3Error(412, "PreconditionFailed"), notFound, s3Error(412, "PreconditionFailed"), notFound]);
    expect(await new ConditionalWrites({ setting: "auto", onAws: false, client: blind.client, bucket: "b", prefix: "", log }).probe()).toBe("unsupported");
    // Another replica's probe object, gone by the time of the HEAD: ask again, and find the store supports it.
    const raced = fakeClient([s3Error(412, "PreconditionFailed"), notFound, ok, s3Error(412, "PreconditionFailed")]);
    expect(await new ConditionalWrites({ setting: "auto", onAws: false, client: raced.client, bucket: "b", prefix: "", log }).probe()).toBe("supported");
    // Left by an earlier start.
    const left = fakeClient([s3Error(412, "PreconditionFailed"), ok]);
    expect(await new ConditionalWrites({ setting: "auto", onAws: false, client: left.client, bucket: "b", prefix: "", log }).probe()).toBe("supported");
    // Another replica's conditional write in progress.
    const busy = fakeClient([s3Error(409, "ConditionalRequestConflict")]);
    expect(await new ConditionalWrites({ setting: "auto", onAws: false, client: busy.client, bucket: "b", prefix: "", log }).probe()).toBe("supported");
  });

  it("recognises refusals of the condition, tells an existing object from a write under way, and nothing else", () => {
    const err = (status: number, name: string) => Object.assign(new Error(name), { name, $metadata: { httpStatusCode: status } });
    expect(conditionRefusal(err(412, "PreconditionFailed"))).toBe("exists");
    expect(conditionRefusal(err(409, "ConditionalRequestConflict"))).toBe("conflict");
    expect(conditionRefusal(err(403, "AccessDenied"))).toBeUndefined();
    expect(conditionRefusal(err(503, "SlowDown"))).toBeUndefined();
    expect(conditionRefusal(undefined)).toBeUndefined();
  });
});
