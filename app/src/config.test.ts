import { describe, expect, it } from "vitest";
import { configProblems } from "../test/support/config-problems.js";
import { loadConfig } from "./config.js";

describe("loadConfig", () => {
  it("has working defaults", () => {
    const c = loadConfig({});
    expect(c).toMatchObject({
      port: 8080,
      // Loopback: a laptop running `npm start` is no write endpoint for its network (the image sets 0.0.0.0).
      host: "127.0.0.1",
      bucket: undefined,
      prefix: "",
      logLevel: "info",
      responseDelayMs: 0,
      upload: { partSizeBytes: 5 * 1024 * 1024, partConcurrency: 2, instanceConcurrency: 4 },
      duplicatePolicy: "overwrite",
      bodyRate: { minBytesPerSecond: 1024, windowMs: 60_000 },
    });
  });

  it("reads the slow-body limits; a minimum rate of 0 turns the check off", () => {
    expect(loadConfig({ BODY_MIN_BYTES_PER_SECOND: "0", BODY_RATE_WINDOW_SECONDS: "5" }).bodyRate).toEqual({ minBytesPerSecond: 0, windowMs: 5_000 });
  });

  it("reads the Python service's names", () => {
    const c = loadConfig({ BUCKETNAME: "my-dicom", PREFIX: "/a/b/", WADOURL: "https://x.example/wado/", LOGLEVEL: "warning", RESPONSEDELAY: "2.5" });
    expect(c).toMatchObject({ bucket: "my-dicom", prefix: "a/b", wadoUrl: "https://x.example/wado", logLevel: "warn", responseDelayMs: 2500 });
    expect(loadConfig({ S3_BUCKET: "first", BUCKETNAME: "second" }).bucket).toBe("first");
    expect(loadConfig({ LOGLEVEL: "CRITICAL" }).logLevel).toBe("fatal");
  });

  it("reads the upload tuning", () => {
    const c = loadConfig({ UPLOAD_PART_SIZE_MIB: "16", UPLOAD_PART_CONCURRENCY: "8", UPLOAD_INSTANCE_CONCURRENCY: "2", DUPLICATE_POLICY: "REJECT" });
    expect(c.upload).toEqual({ partSizeBytes: 16 * 1024 * 1024, partConcurrency: 8, instanceConcurrency: 2 });
    expect(c.duplicatePolicy).toBe("reject");
  });

  it("reads S3_CONDITIONAL_WRITES, auto by default", () => {
    expect(loadConfig({}).s3ConditionalWrites).toBe("auto");
    expect(loadConfig({ S3_CONDITIONAL_WRITES: "OFF" }).s3ConditionalWrites).toBe("off");
    expect(loadConfig({ S3_CONDITIONAL_WRITES: "on" }).s3ConditionalWrites).toBe("on");
  });

  it.each([
    ["PORT", "http", /^PORT: expected a whole number/],
    ["PORT", "70000", /^PORT: must be between 0 and 65535/],
    ["UPLOAD_PART_SIZE_MIB", "4", /^UPLOAD_PART_SIZE_MIB: must be between 5/],
    ["UPLOAD_PART_CONCURRENCY", "0", /^UPLOAD_PART_CONCURRENCY: must be between 1/],
    ["UPLOAD_INSTANCE_CONCURRENCY", "-1", /^UPLOAD_INSTANCE_CONCURRENCY: expected a whole number/],
    ["DUPLICATE_POLICY", "ignore", /^DUPLICATE_POLICY: expected overwrite or reject/],
    ["S3_CONDITIONAL_WRITES", "sometimes", /^S3_CONDITIONAL_WRITES: expected auto, on or off/],
    ["LOGLEVEL", "VERBOSE", /^LOGLEVEL: expected one of/],
    ["RESPONSEDELAY", "soon", /^RESPONSEDELAY: expected seconds/],
    ["S3_ENDPOINT", "ftp://x", /^S3_ENDPOINT: expected an http\(s\) URL/],
    ["S3_FORCE_PATH_STYLE", "maybe", /^S3_FORCE_PATH_STYLE: expected true or false/],
    ["S3_BUCKET", "Not_A_Bucket", /^S3_BUCKET: .* not a valid S3 bucket name/],
    ["WADOURL", "not a url", /^WADOURL: expected an http\(s\) URL/],
    ["PREFIX", "a/../b", /^PREFIX: /],
    ["MAX_REQUEST_BYTES", "0", /^MAX_REQUEST_BYTES: must be between 1/],
    ["MAX_INSTANCE_BYTES", "1e9", /^MAX_INSTANCE_BYTES: expected a whole number/],
    ["BODY_MIN_BYTES_PER_SECOND", "-1", /^BODY_MIN_BYTES_PER_SECOND: expected a whole number/],
    ["BODY_RATE_WINDOW_SECONDS", "0", /^BODY_RATE_WINDOW_SECONDS: must be between 1 and 3600/],
    ["BODY_RATE_WINDOW_SECONDS", "3601", /^BODY_RATE_WINDOW_SECONDS: must be between 1 and 3600/],
  ])("rejects %s=%s naming the variable", (name, value, pattern) => {
    const problems = configProblems({ [name]: value });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(pattern);
  });

  it("reports every problem at once", () => {
    expect(configProblems({ PORT: "x", LOGLEVEL: "loud", UPLOAD_PART_SIZE_MIB: "1" })).toHaveLength(3);
  });

  it("refuses an instance size limit that cannot fit in 10,000 parts", () => {
    expect(configProblems({ UPLOAD_PART_SIZE_MIB: "5", MAX_INSTANCE_BYTES: String(5 * 1024 * 1024 * 10_001) })[0]).toMatch(/^MAX_INSTANCE_BYTES: .*10000 parts/);
  });
});
