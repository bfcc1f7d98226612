// CPU-based autoscaling of the ECS service between fargate.minTasks and maxTasks. With a
// fixed task count there is nothing to scale and nothing is made.
import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";

export const CPU_TARGET_PERCENT = 60;

export interface ServiceScalingArgs {
  appName: string;
  clusterName: pulumi.Input<string>;
  serviceName: pulumi.Input<string>;
  minTasks: number;
  maxTasks: number;
}

/** Whether the service's task count belongs to the scaler (and a deployment must leave it alone). */
export function scalesAutomatically(fargate: { minTasks: number; maxTasks: number }): boolean {
  return fargate.maxTasks > fargate.minTasks;
}

export function createServiceScaling(args: ServiceScalingArgs, opts: pulumi.CustomResourceOptions): void {
  if (!scalesAutomatically(args)) return;
  const target = new aws.appautoscaling.Target(
    `${args.appName}-tasks`,
    {
      serviceNamespace: "ecs",
      scalableDimension: "ecs:service:DesiredCount",
      resourceId: pulumi.interpolate`service/${args.clusterName}/${args.serviceName}`,
      minCapacity: args.minTasks,
      maxCapacity: args.maxTasks,
    },
    opts,
  );
  new aws.appautoscaling.Policy(
    `${args.appName}-cpu`,
    {
      policyType: "TargetTrackingScaling",
      serviceNamespace: target.serviceNamespace,
      scalableDimension: target.scalableDimension,
      resourceId: target.resourceId,
      targetTrackingScalingPolicyConfiguration: {
        predefinedMetricSpecification: { predefinedMetricType: "ECSServiceAverageCPUUtilization" },
        targetValue: CPU_TARGET_PERCENT,
        scaleOutCooldown: 60,
        scaleInCooldown: 300,
      },
    },
    opts,
  );
}
