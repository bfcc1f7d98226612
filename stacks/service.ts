// The ECS service: its cluster, the task security group, and the service behind the NLB's
// target group. The task definition (task-definition.ts) and the scaling
// (service-scaling.ts) are components of their own; createService puts the three together.
import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";
import { PORTS } from "./containers";
import { createServiceScaling, scalesAutomatically } from "./service-scaling";
import { createTaskDefinition, type TaskDefinitionArgs } from "./task-definition";

/**
 * How long `pulumi up` waits for the service to reach a steady state. Longer than the
 * circuit breaker needs to roll a failing deployment back (it counts failed tasks, each
 * taking the 60 s grace period plus two 10 s health checks), so a crash loop fails the
 * update instead of passing it.
 */
export const STEADY_STATE_TIMEOUT = "20m";

/** What the task definition needs (createService makes it), and where the service runs it. */
export interface ServiceArgs extends TaskDefinitionArgs {
  vpcId: pulumi.Input<string>;
  privateSubnetIds: pulumi.Input<string>[];
  loadBalancer: {
    securityGroupId: pulumi.Input<string>;
    targetGroupArn: pulumi.Input<string>;
    listener: pulumi.Resource;
  };
  certificate: TaskDefinitionArgs["certificate"] & {
    /** Objects the stack writes; tasks must not start before they exist. */
    objects: pulumi.Resource[];
  };
}

export interface Service {
  clusterName: pulumi.Output<string>;
  serviceName: pulumi.Output<string>;
  logGroupNames: { app: pulumi.Output<string>; nginx: pulumi.Output<string> };
  taskSecurityGroupId: pulumi.Output<string>;
  /** The containers' run-time role (operators check grants against it, e.g. in key policies). */
  taskRoleArn: pulumi.Output<string>;
  autoscaling: boolean;
}

export function createService(args: ServiceArgs, opts: pulumi.CustomResourceOptions): Service {
  const { appName } = args;

  const cluster = new aws.ecs.Cluster(
    `${appName}`,
    { settings: [{ name: "containerInsights", value: "enabled" }] },
    opts,
  );

  const task = createTaskDefinition(args, opts);

  // Tasks accept traffic only from the NLB (TLS and health check), and reach out only
  // on 443: ECR, CloudWatch Logs and STS (and the token issuer, with oidc) through NAT,
  // S3 through the gateway endpoint.
  const taskSecurityGroup = new aws.ec2.SecurityGroup(
    `${appName}-task`,
    { vpcId: args.vpcId, description: `${appName} tasks: traffic from the load balancer only`, tags: { Name: `${appName}-task` } },
    opts,
  );
  for (const [label, port] of [["tls", PORTS.tls], ["health", PORTS.health]] as const) {
    new aws.vpc.SecurityGroupIngressRule(
      `${appName}-task-from-nlb-${label}`,
      {
        securityGroupId: taskSecurityGroup.id,
        referencedSecurityGroupId: args.loadBalancer.securityGroupId,
        ipProtocol: "tcp",
        fromPort: port,
        toPort: port,
        description: `${label} from the load balancer`,
      },
      opts,
    );
    new aws.vpc.SecurityGroupEgressRule(
      `${appName}-nlb-to-task-${label}`,
      {
        securityGroupId: args.loadBalancer.securityGroupId,
        referencedSecurityGroupId: taskSecurityGroup.id,
        ipProtocol: "tcp",
        fromPort: port,
        toPort: port,
        description: `${label} to the tasks`,
      },
      opts,
    );
  }
  new aws.vpc.SecurityGroupEgressRule(
    `${appName}-task-https-out`,
    {
      securityGroupId: taskSecurityGroup.id,
      cidrIpv4: "0.0.0.0/0",
      ipProtocol: "tcp",
      fromPort: 443,
      toPort: 443,
      description: args.oidc ? "AWS APIs (S3, ECR, CloudWatch Logs, STS) and the OIDC issuer" : "AWS APIs (S3, ECR, CloudWatch Logs, STS)",
    },
    opts,
  );

  const autoscaling = scalesAutomatically(args.fargate);
  const service = new aws.ecs.Service(
    `${appName}`,
    {
      cluster: cluster.arn,
      taskDefinition: task.arn,
      launchType: "FARGATE",
      desiredCount: args.fargate.taskCount,
      networkConfiguration: {
        subnets: args.privateSubnetIds,
        securityGroups: [taskSecurityGroup.id],
        assignPublicIp: false,
      },
      loadBalancers: [{ targetGroupArn: args.loadBalancer.targetGroupArn, containerName: "nginx", containerPort: PORTS.tls }],
      healthCheckGracePeriodSeconds: 60,
      // `pulumi up` reports success only once the new tasks run and pass the health check;
      // a deployment whose tasks keep failing is rolled back and the update fails.
      waitForSteadyState: true,
      deploymentCircuitBreaker: { enable: true, rollback: true },
      deploymentMinimumHealthyPercent: 100,
      deploymentMaximumPercent: 200,
      availabilityZoneRebalancing: "ENABLED",
      propagateTags: "SERVICE",
      enableEcsManagedTags: true,
      // `aws ecs execute-command` into a running container (fargate.enableExecuteCommand).
      enableExecuteCommand: args.behaviour.executeCommand,
    },
    {
      ...opts,
      // Tasks need the listener to register with, every role policy to pull, log and read,
      // and the certificate objects nginx fetches at start.
      dependsOn: [args.loadBalancer.listener, ...task.policies, ...args.certificate.objects],
      customTimeouts: { create: STEADY_STATE_TIMEOUT, update: STEADY_STATE_TIMEOUT },
      // Once autoscaling owns the task count, a deployment must not reset it.
      ignoreChanges: autoscaling ? ["desiredCount"] : [],
    },
  );

  createServiceScaling(
    { appName, clusterName: cluster.name, serviceName: service.name, minTasks: args.fargate.minTasks, maxTasks: args.fargate.maxTasks },
    opts,
  );

  return {
    taskRoleArn: task.taskRoleArn,
    clusterName: cluster.name,
    serviceName: service.name,
    logGroupNames: task.logGroupNames,
    taskSecurityGroupId: taskSecurityGroup.id,
    autoscaling,
  };
}
