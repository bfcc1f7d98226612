import { describe, expect, it } from "vitest";
import { configProblems, parsedConfig } from "../testing/config-problems";

describe("events config", () => {
  it("is on by default: 4 days in the queue, 5 receives before the dead-letter queue", () => {
    expect(parsedConfig({}).events).toEqual({ enabled: true, retentionSeconds: 345_600, maxReceiveCount: 5 });
    expect(parsedConfig({ events: { enabled: false } }).events.enabled).toBe(false);
  });

  it("refuses what SQS refuses, naming the key", () => {
    expect(configProblems({ events: { retentionSeconds: 30, maxReceiveCount: 0 } })).toEqual([
      "stowrs-to-s3:events: retentionSeconds must be between 60 and 1209600, got 30",
      "stowrs-to-s3:events: maxReceiveCount must be between 1 and 1000, got 0",
    ]);
  });
});
