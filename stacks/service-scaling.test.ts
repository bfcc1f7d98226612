import { describe, expect, it } from "vitest";
import { createServiceScaling, scalesAutomatically } from "./service-scaling";
import { inputs, one, recordComponent } from "./testing/harness";

function record(minTasks: number, maxTasks: number) {
  return recordComponent((opts) => createServiceScaling({ appName: "sv", clusterName: "sv-cluster", serviceName: "sv-service", minTasks, maxTasks }, opts));
}

describe("createServiceScaling", () => {
  it("scales the service between min and max tasks, tracking 60 % CPU", async () => {
    const { resources } = await record(2, 6);
    expect(inputs(one(resources, "aws:appautoscaling/target:Target"))).toEqual({
      minCapacity: 2,
      maxCapacity: 6,
      resourceId: "service/sv-cluster/sv-service",
      scalableDimension: "ecs:service:DesiredCount",
      serviceNamespace: "ecs",
    });
    expect(inputs(one(resources, "aws:appautoscaling/policy:Policy")).targetTrackingScalingPolicyConfiguration).toMatchObject({
      predefinedMetricSpecification: { predefinedMetricType: "ECSServiceAverageCPUUtilization" },
      targetValue: 60,
      scaleOutCooldown: 60,
      scaleInCooldown: 300,
    });
  });

  it("makes nothing when the task count is fixed", async () => {
    const { resources } = await record(1, 1);
    expect(resources.filter((r) => r.type.startsWith("aws:appautoscaling"))).toEqual([]);
    expect([scalesAutomatically({ minTasks: 1, maxTasks: 1 }), scalesAutomatically({ minTasks: 2, maxTasks: 6 })]).toEqual([false, true]);
  });
});
