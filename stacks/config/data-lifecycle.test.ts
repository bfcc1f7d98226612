import { describe, expect, it } from "vitest";
import { configProblems, parsedConfig } from "../testing/config-problems";

describe("lifecycle, objectLock and auditTrail config", () => {
  it("has defaults: Intelligent-Tiering after 30 days, old versions kept 90 days, no lock, a trail kept six years", () => {
    const c = parsedConfig({});
    expect(c.lifecycle).toEqual({ transitionDays: 30, storageClass: "INTELLIGENT_TIERING", noncurrentVersionExpirationDays: 90, abortIncompleteUploadDays: 7 });
    expect(c.objectLock).toEqual({ enabled: false, retentionDays: 90 });
    expect(c.auditTrail).toEqual({ enabled: true, retentionDays: 2192 });
  });

  it("takes other classes and periods, and 0 to keep old versions forever", () => {
    const c = parsedConfig({
      lifecycle: { storageClass: "standard_ia", transitionDays: 45, noncurrentVersionExpirationDays: 0 },
      objectLock: { enabled: true, retentionDays: 365 },
      auditTrail: { enabled: false },
    });
    expect(c.lifecycle).toMatchObject({ storageClass: "STANDARD_IA", transitionDays: 45, noncurrentVersionExpirationDays: 0 });
    expect(c.objectLock).toEqual({ enabled: true, retentionDays: 365 });
    expect(c.auditTrail.enabled).toBe(false);
  });

  it("refuses archive classes a WADO-RS server could not read, and transitions S3 refuses", () => {
    expect(configProblems({ lifecycle: { storageClass: "DEEP_ARCHIVE" } })).toEqual([
      "stowrs-to-s3:lifecycle: storageClass DEEP_ARCHIVE needs a restore before any read, so a WADO-RS server could not read the instances; use one of INTELLIGENT_TIERING, STANDARD_IA, GLACIER_IR, STANDARD",
    ]);
    expect(configProblems({ lifecycle: { storageClass: "STANDARD_IA", transitionDays: 7 } })).toEqual([
      "stowrs-to-s3:lifecycle: transitionDays must be at least 30 for STANDARD_IA (S3 refuses earlier transitions to it), got 7",
    ]);
    expect(configProblems({ lifecycle: { storageClass: "ONEZONE" } })).toEqual([
      'stowrs-to-s3:lifecycle: storageClass must be one of INTELLIGENT_TIERING, STANDARD_IA, GLACIER_IR, STANDARD, got "ONEZONE"',
    ]);
  });

  it("refuses out-of-range days and unknown fields, naming the key", () => {
    expect(configProblems({ lifecycle: { abortIncompleteUploadDays: 0 }, objectLock: { retentionDays: 0, mode: "COMPLIANCE" }, auditTrail: { retentionDays: 5000 } })).toEqual([
      "stowrs-to-s3:lifecycle: abortIncompleteUploadDays must be between 1 and 365, got 0",
      'stowrs-to-s3:objectLock: unknown field "mode" (known fields: enabled, retentionDays)',
      "stowrs-to-s3:objectLock: retentionDays must be between 1 and 3650, got 0",
      "stowrs-to-s3:auditTrail: retentionDays must be between 1 and 3653, got 5000",
    ]);
  });
});
