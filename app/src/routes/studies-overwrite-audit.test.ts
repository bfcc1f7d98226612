// The audit trail of overwrites (DUPLICATE_POLICY=overwrite): another copy of a stored instance,
// with other bytes, replaces it; the service says so at WARN with the key, both SHA-256 values and
// who sent it, and counts it. End to end: the service as a child process (its real log lines), a
// real S3-compatible server. The bearer-token side (sub, client id) is in studies-auth.test.ts.
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildInstance, newInstanceUids } from "../../test/support/dicom.js";
import { expectedKey } from "../../test/support/key-layout.js";
import { fetchMetrics, metric } from "../../test/support/metrics.js";
import { multipartBody } from "../../test/support/multipart.js";
import { getObject } from "../../test/support/s3-objects.js";
import { startS3rver, type S3rverHandle } from "../../test/support/s3rver.js";
import { startServiceProcess, type ServiceHandle } from "../../test/support/service.js";
import { postStow } from "../../test/support/stow-client.js";
import { MIB } from "../../test/support/units.js";

const B = "overwrite-audit-boundary";
const OVERWRITTEN = "instance overwritten: the key held different bytes";
const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

let s3: S3rverHandle;
let svc: ServiceHandle;

beforeAll(async () => {
  s3 = await startS3rver();
  svc = await startServiceProcess({ ...s3.env, DUPLICATE_POLICY: "overwrite", UPLOAD_PART_SIZE_MIB: "5" });
});
afterAll(async () => {
  await svc?.stop();
  await s3?.stop();
});

/** Sends one instance as the front would pass it on: with the client certificate subject and the client's address. */
function send(bytes: Buffer, site: { dn: string; address: string }) {
  return postStow(svc.url, multipartBody([bytes], B), B, {
    headers: { Accept: "application/dicom+json", "X-Client-DN": site.dn, "X-Forwarded-For": site.address },
  });
}

const siteA = { dn: "CN=pacs-a,O=Hospital A", address: "192.0.2.10" };
const siteB = { dn: "CN=pacs-b,O=Hospital B", address: "198.51.100.20" };
const overwrites = async () => metric(await fetchMetrics(svc.url), "stowrs_overwrites_total");

describe("overwrite audit (DUPLICATE_POLICY=overwrite)", () => {
  it("logs an overwrite at WARN with the key, both SHA-256 values and the sender, counts it, and logs nothing of the data set", async () => {
    const ids = newInstanceUids();
    const first = buildInstance({ ...ids, pixels: 4_000 });
    const second = buildInstance({ ...ids, pixels: 4_000, patientName: "PHANTOM^OTHER" });
    expect(first.equals(second)).toBe(false);
    expect(await overwrites()).toBe(0);

    expect((await send(first, siteA)).status).toBe(200);
    // The same bytes again are no overwrite.
    expect((await send(first, siteA)).status).toBe(200);
    expect(await overwrites()).toBe(0);
    expect(svc.logRecords(OVERWRITTEN)).toEqual([]);

    expect((await send(second, siteB)).status).toBe(200);
    expect((await getObject(s3.client, s3.bucket, expectedKey(ids)))!.equals(second)).toBe(true);
    expect(await overwrites()).toBe(1);
    await expect.poll(() => svc.logRecords(OVERWRITTEN).length).toBe(1);
    const [line] = svc.logRecords(OVERWRITTEN);
    expect(line).toMatchObject({
      level: "warn",
      key: expectedKey(ids),
      sha256: sha256(second),
      bytes: second.length,
      previousSha256: sha256(first),
      previousBytes: first.length,
      sender: { clientDn: siteB.dn, forwardedFor: siteB.address },
    });
    expect(String((line.sender as Record<string, unknown>).clientAddress)).toMatch(/^(::ffff:)?127\.0\.0\.1$/);
    expect(typeof line.requestId).toBe("string");
    // UIDs, hashes and names of senders only: nothing of the patient.
    expect(svc.logs().join("\n")).not.toContain("PHANTOM");
  });

  it("audits an overwrite by an instance larger than one part (a multipart upload) the same way", async () => {
    const ids = newInstanceUids();
    const small = buildInstance({ ...ids, pixels: 2_000 });
    const large = buildInstance({ ...ids, pixels: 6 * MIB });
    const before = (await overwrites()) ?? 0;
    expect((await send(small, siteA)).status).toBe(200);
    expect((await send(large, siteB)).status).toBe(200);
    expect((await getObject(s3.client, s3.bucket, expectedKey(ids)))!.equals(large)).toBe(true);
    expect(await overwrites()).toBe(before + 1);
    await expect.poll(() => svc.logRecords(OVERWRITTEN).filter((l) => l.key === expectedKey(ids)).length).toBe(1);
    const line = svc.logRecords(OVERWRITTEN).find((l) => l.key === expectedKey(ids))!;
    expect(line).toMatchObject({ level: "warn", sha256: sha256(large), previousSha256: sha256(small), sender: { clientDn: siteB.dn } });

    // Back to the small one: the large one's hash came from its tag.
    expect((await send(small, siteA)).status).toBe(200);
    await expect.poll(() => svc.logRecords(OVERWRITTEN).filter((l) => l.key === expectedKey(ids)).length).toBe(2);
    expect(svc.logRecords(OVERWRITTEN).filter((l) => l.key === expectedKey(ids))[1]).toMatchObject({ sha256: sha256(small), previousSha256: sha256(large), sender: { clientDn: siteA.dn } });
  });
});
