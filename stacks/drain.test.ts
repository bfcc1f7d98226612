import { describe, expect, it } from "vitest";
import { CLEANUP_ALLOWANCE_SECONDS, DRAIN_SECONDS, drainTimings } from "./drain";
import { containerEnv, inputs, json, one, recordWith } from "./testing/harness";

describe("drainTimings", () => {
  it("sets the stop timeout and the deregistration delay to drainSeconds, and the graceful bounds just inside them", () => {
    expect(drainTimings(60)).toEqual({ stopTimeoutSeconds: 60, deregistrationDelaySeconds: 60, shutdownTimeoutSeconds: 50, uploadGraceSeconds: 110 });
    expect(drainTimings(DRAIN_SECONDS.max)).toEqual({ stopTimeoutSeconds: 120, deregistrationDelaySeconds: 120, shutdownTimeoutSeconds: 110, uploadGraceSeconds: 230 });
  });

  it("leaves the app its cleanup before SIGKILL in the whole range, and refuses what Fargate cannot stop in", () => {
    for (let d = DRAIN_SECONDS.min; d <= DRAIN_SECONDS.max; d++) {
      const t = drainTimings(d);
      expect(t.shutdownTimeoutSeconds + CLEANUP_ALLOWANCE_SECONDS).toBeLessThanOrEqual(t.stopTimeoutSeconds);
      expect(t.shutdownTimeoutSeconds).toBeGreaterThan(0);
    }
    expect(() => drainTimings(121)).toThrow(RangeError);
    expect(() => drainTimings(14)).toThrow(RangeError);
  });
});

describe("fargate.drainSeconds in the stack", () => {
  it("reaches both containers' stop timeouts and shutdown bounds and the target group's deregistration delay", async () => {
    const { resources } = await recordWith({ fargate: { drainSeconds: 90 } });
    const containers = json(inputs(one(resources, "aws:ecs/taskDefinition:TaskDefinition")).containerDefinitions);
    expect(containers.map((c: any) => [c.name, c.stopTimeout])).toEqual([["nginx", 90], ["app", 90]]);
    expect([containerEnv(resources, "nginx").SHUTDOWN_TIMEOUT_SECONDS, containerEnv(resources, "app").SHUTDOWN_TIMEOUT_SECONDS]).toEqual(["80", "80"]);
    expect(inputs(one(resources, "aws:lb/targetGroup:TargetGroup")).deregistrationDelay).toBe(90);
  });
});
