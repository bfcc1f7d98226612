// The Fargate task definition: the two containers (containers.ts), their log groups, and
// the task and execution roles (task-roles.ts). What runs, with which rights; where and
// how many is the service's business (service.ts).
import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";
import type { AppSettings, CertificateConfig, FargateConfig, OidcConfig, UploadSettings } from "./config";
import { containerDefinitions, taskVolumes, type ContainerBehaviour } from "./containers";
import { createTaskRoles } from "./task-roles";

export interface TaskDefinitionArgs {
  appName: string;
  region: string;
  accountId: pulumi.Input<string>;
  images: { app: pulumi.Input<string>; nginx: pulumi.Input<string>; ecrRepositoryArns: pulumi.Input<string>[] };
  dicomBucket: { name: pulumi.Input<string>; arn: pulumi.Input<string> };
  kmsKeyArn?: pulumi.Input<string>;
  certificate: {
    mode: CertificateConfig["mode"];
    authMode: CertificateConfig["authMode"];
    bucketName?: pulumi.Input<string>;
    objectArns: pulumi.Input<string>[];
    contentSha256?: pulumi.Input<string>;
    /** An external certificate bucket's own KMS key, which nginx then needs to decrypt with. */
    kmsKeyArn?: string;
  };
  fargate: FargateConfig;
  app: AppSettings;
  oidc?: OidcConfig;
  upload: UploadSettings;
  logRetentionDays: number;
  upstreamTimeoutSeconds: number;
  behaviour: ContainerBehaviour;
}

export interface TaskDefinition {
  arn: pulumi.Output<string>;
  taskRoleArn: pulumi.Output<string>;
  /** Every role policy a task needs before it can start; the service waits for them. */
  policies: pulumi.Resource[];
  logGroupNames: { app: pulumi.Output<string>; nginx: pulumi.Output<string> };
}

export function createTaskDefinition(args: TaskDefinitionArgs, opts: pulumi.CustomResourceOptions): TaskDefinition {
  const { appName } = args;

  const logGroup = (container: "app" | "nginx") =>
    new aws.cloudwatch.LogGroup(
      `${appName}-${container}`,
      { name: `/${appName}/ecs/${container}`, retentionInDays: args.logRetentionDays },
      opts,
    );
  const appLogs = logGroup("app");
  const nginxLogs = logGroup("nginx");

  const { taskRole, executionRole, policies } = createTaskRoles(
    {
      appName,
      region: args.region,
      accountId: args.accountId,
      dicomBucketArn: args.dicomBucket.arn,
      prefix: args.app.prefix,
      kmsKeyArn: args.kmsKeyArn,
      certificateObjectArns: args.certificate.objectArns,
      certificateKmsKeyArn: args.certificate.kmsKeyArn,
      logGroupArns: [appLogs.arn, nginxLogs.arn],
      ecrRepositoryArns: args.images.ecrRepositoryArns,
      executeCommand: args.behaviour.executeCommand,
    },
    opts,
  );

  const taskDefinition = new aws.ecs.TaskDefinition(
    `${appName}`,
    {
      family: appName,
      requiresCompatibilities: ["FARGATE"],
      networkMode: "awsvpc",
      cpu: String(args.fargate.cpu),
      memory: String(args.fargate.memory),
      runtimePlatform: { operatingSystemFamily: "LINUX", cpuArchitecture: "X86_64" },
      taskRoleArn: taskRole.arn,
      executionRoleArn: executionRole.arn,
      // Both root file systems are read-only; these are the paths the containers may write.
      volumes: taskVolumes(args.behaviour.executeCommand),
      containerDefinitions: pulumi
        .all([
          args.images.app,
          args.images.nginx,
          args.dicomBucket.name,
          args.certificate.bucketName,
          appLogs.name,
          nginxLogs.name,
          args.certificate.contentSha256,
        ])
        .apply(([app, nginx, dicomBucketName, certBucketName, appLogGroup, nginxLogGroup, certificatesSha256]) =>
          JSON.stringify(
            containerDefinitions({
              region: args.region,
              images: { app, nginx },
              dicomBucketName,
              certificate: { mode: args.certificate.mode, authMode: args.certificate.authMode, bucketName: certBucketName },
              app: args.app,
              oidc: args.oidc,
              upload: args.upload,
              logGroups: { app: appLogGroup, nginx: nginxLogGroup },
              taskMemoryMiB: args.fargate.memory,
              upstreamTimeoutSeconds: args.upstreamTimeoutSeconds,
              certificatesSha256,
              ...args.behaviour,
            }),
          ),
        ),
    },
    opts,
  );

  return {
    arn: taskDefinition.arn,
    taskRoleArn: taskRole.arn,
    policies,
    logGroupNames: { app: appLogs.name, nginx: nginxLogs.name },
  };
}
