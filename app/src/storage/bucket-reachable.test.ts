// Readiness asks S3 only what a task role limited to PREFIX may ask: a listing under the
// prefix (s3:prefix), never a HeadBucket, which carries no prefix and such a role is refused.
import type { S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startS3rver, type S3rverHandle } from "../../test/support/s3rver.js";
import { bucketReachable } from "./bucket-reachable.js";

let s3: S3rverHandle;
beforeAll(async () => {
  s3 = await startS3rver({ bucket: "ready-bucket" });
});
afterAll(async () => {
  await s3?.stop();
});

/** The commands a client sends, with their input, as S3 receives them. */
function recording(client: S3Client): { name: string; input: Record<string, unknown> }[] {
  const sent: { name: string; input: Record<string, unknown> }[] = [];
  client.middlewareStack.add(
    (next, context) => async (args) => {
      sent.push({ name: String(context.commandName), input: { ...(args.input as Record<string, unknown>) } });
      return next(args);
    },
    { step: "initialize", name: "recordCommands" },
  );
  return sent;
}

describe("bucketReachable", () => {
  it("lists one key under the prefix, or of the bucket without one, and says ready", async () => {
    const sent = recording(s3.client);
    expect(await bucketReachable({ client: s3.client, bucket: "ready-bucket" }, "incoming/dicom")).toEqual({ ok: true });
    expect(await bucketReachable({ client: s3.client, bucket: "ready-bucket" })).toEqual({ ok: true });
    expect(sent).toEqual([
      { name: "ListObjectsV2Command", input: { Bucket: "ready-bucket", Prefix: "incoming/dicom/", MaxKeys: 1 } },
      { name: "ListObjectsV2Command", input: { Bucket: "ready-bucket", Prefix: undefined, MaxKeys: 1 } },
    ]);
    s3.client.middlewareStack.remove("recordCommands");
  });

  it("says not ready, with S3's reason, when the bucket does not exist", async () => {
    const result = await bucketReachable({ client: s3.client, bucket: "no-such-bucket" }, "dicom");
    expect(result.ok).toBe(false);
    expect((result as { error: string }).error).toMatch(/NoSuchBucket|not exist/i);
  });
});
