import { PutObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startS3rver, type S3rverHandle } from "../../test/support/s3rver.js";
import { HEADS_BEFORE_LISTING, SeriesListing } from "./series-listing.js";

let s3: S3rverHandle;
beforeAll(async () => {
  s3 = await startS3rver();
  for (const k of ["1.2/1.2.3/1.dcm", "1.2/1.2.3/2.dcm", "1.2/1.2.30/9.dcm"]) {
    await s3.client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: k, Body: "x" }));
  }
});
afterAll(() => s3?.stop());

describe("SeriesListing", () => {
  it("asks for the first keys of a series, then answers from one listing of the series", async () => {
    const listing = new SeriesListing(s3.client, s3.bucket);
    for (let i = 0; i < HEADS_BEFORE_LISTING.headFirst; i++) expect(await listing.presence(`1.2/1.2.3/x${i}.dcm`)).toBe("ask");
    expect(await listing.presence("1.2/1.2.3/2.dcm")).toBe("present");
    expect(await listing.presence("1.2/1.2.3/3.dcm")).toBe("absent");
    // A series whose UID extends another's is a different prefix.
    for (let i = 0; i < HEADS_BEFORE_LISTING.headFirst; i++) expect(await listing.presence(`1.2/1.2.30/x${i}.dcm`)).toBe("ask");
    expect(await listing.presence("1.2/1.2.30/9.dcm")).toBe("present");
  });

  it("asks for longer when told to (conditional writes need the listing only for long series)", async () => {
    const listing = new SeriesListing(s3.client, s3.bucket, HEADS_BEFORE_LISTING.conditional);
    for (let i = 0; i < HEADS_BEFORE_LISTING.conditional; i++) expect(await listing.presence(`1.2/1.2.3/y${i}.dcm`)).toBe("ask");
    expect(await listing.presence("1.2/1.2.3/1.dcm")).toBe("present");
  });

  it("asks again for a key this request asked about before, whatever the listing says (it may have been written since)", async () => {
    const listing = new SeriesListing(s3.client, s3.bucket);
    for (let i = 0; i < HEADS_BEFORE_LISTING.headFirst; i++) expect(await listing.presence(`1.2/1.2.3/z${i}.dcm`)).toBe("ask");
    expect(await listing.presence("1.2/1.2.3/new.dcm")).toBe("absent");
    await s3.client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: "1.2/1.2.3/new.dcm", Body: "written by the first copy" }));
    expect(await listing.presence("1.2/1.2.3/new.dcm")).toBe("ask");
    // What the listing did see stays present, however often it is asked about.
    expect(await listing.presence("1.2/1.2.3/2.dcm")).toBe("present");
    expect(await listing.presence("1.2/1.2.3/2.dcm")).toBe("present");
    // Asked about before the listing was taken (and still unanswered), too: the key is claimed at once.
    const racing = new SeriesListing(s3.client, s3.bucket, 0);
    const [first, second] = await Promise.all([racing.presence("1.2/1.2.3/other.dcm"), racing.presence("1.2/1.2.3/other.dcm")]);
    expect([first, second]).toEqual(["absent", "ask"]);
  });

  it("falls back to asking when the listing fails", async () => {
    const listing = new SeriesListing(s3.client, "no-such-bucket");
    for (let i = 0; i <= HEADS_BEFORE_LISTING.headFirst + 2; i++) expect(await listing.presence(`1.2/1.2.3/${i}.dcm`)).toBe("ask");
  });
});
