import { describe, expect, it } from "vitest";
import { DEFAULTS } from "./config";
import { DEFAULT_BEHAVIOUR } from "./testing/behaviour";
import { createTaskDefinition, type TaskDefinitionArgs } from "./task-definition";
import { containerEnv, inputs, json, ofType, one, recordComponent } from "./testing/harness";

function args(overrides: Partial<TaskDefinitionArgs> = {}): TaskDefinitionArgs {
  return {
    appName: "sv",
    region: "eu-central-1",
    accountId: "123456789012",
    images: { app: "repo/app@sha256:1", nginx: "repo/nginx@sha256:2", ecrRepositoryArns: ["arn:aws:ecr:eu-central-1:123456789012:repository/sv-app"] },
    dicomBucket: { name: "dicom-bucket", arn: "arn:aws:s3:::dicom-bucket" },
    kmsKeyArn: "arn:aws:kms:eu-central-1:123456789012:key/k",
    certificate: {
      mode: "FROMS3",
      authMode: "clientauth",
      bucketName: "cert-bucket",
      objectArns: ["arn:aws:s3:::cert-bucket/certificate.crt"],
      contentSha256: "cd".repeat(32),
    },
    fargate: { ...DEFAULTS.fargate, cpu: 1024, memory: 2048, taskCount: 2, minTasks: 2, maxTasks: 6 },
    app: { ...DEFAULTS.app, prefix: "dicom", wadoUrl: "", logLevel: "INFO", responseDelay: 0 },
    upload: { partSizeMiB: 8, partConcurrency: 5, instanceConcurrency: 7, maxInstancesInFlight: 3 },
    logRetentionDays: 30,
    upstreamTimeoutSeconds: 3600,
    behaviour: DEFAULT_BEHAVIOUR,
    ...overrides,
  };
}

function record(overrides: Partial<TaskDefinitionArgs> = {}) {
  return recordComponent((opts) => createTaskDefinition(args(overrides), opts));
}

describe("createTaskDefinition", () => {

  it("defines a Fargate task with separate task and execution roles", async () => {
    const { resources } = await record();
    const task = inputs(one(resources, "aws:ecs/taskDefinition:TaskDefinition"));
    expect(task).toMatchObject({ cpu: "1024", memory: "2048", networkMode: "awsvpc", requiresCompatibilities: ["FARGATE"] });
    expect(task.taskRoleArn).toBe("arn:aws:iam::123456789012:role/sv-task");
    expect(task.executionRoleArn).toMatch(/:role\/sv-execution-/);
    const roles = ofType(resources, "aws:iam/role:Role");
    expect(roles.map((r) => r.name)).toEqual(["sv-execution", "sv-task"]);
  });

  it("trusts ECS tasks as AWS documents it: the task role for this account and region, the execution role without conditions", async () => {
    const { resources } = await record();
    expect(json(inputs(one(resources, "aws:iam/role:Role", "sv-task")).assumeRolePolicy)).toEqual({
      Version: "2012-10-17",
      Statement: [
        {
          Effect: "Allow",
          Principal: { Service: "ecs-tasks.amazonaws.com" },
          Action: "sts:AssumeRole",
          Condition: {
            ArnLike: { "aws:SourceArn": "arn:aws:ecs:eu-central-1:123456789012:*" },
            StringEquals: { "aws:SourceAccount": "123456789012" },
          },
        },
      ],
    });
    expect(json(inputs(one(resources, "aws:iam/role:Role", "sv-execution")).assumeRolePolicy)).toEqual({
      Version: "2012-10-17",
      Statement: [{ Effect: "Allow", Principal: { Service: "ecs-tasks.amazonaws.com" }, Action: "sts:AssumeRole" }],
    });
  });

  it("attaches the least-privilege policy to the task role", async () => {
    const { resources } = await record();
    const policy = json(inputs(one(resources, "aws:iam/rolePolicy:RolePolicy", "sv-task")).policy);
    expect(policy.Statement.map((s: any) => [s.Sid, s.Resource])).toEqual([
      ["WriteDicomObjects", "arn:aws:s3:::dicom-bucket/dicom/*"],
      ["ListDicomPrefix", "arn:aws:s3:::dicom-bucket"],
      ["UseDicomKey", "arn:aws:kms:eu-central-1:123456789012:key/k"],
      ["ReadTlsMaterial", ["arn:aws:s3:::cert-bucket/certificate.crt"]],
      ["FindTlsMaterial", ["arn:aws:s3:::cert-bucket"]],
    ]);
    const execution = json(inputs(one(resources, "aws:iam/rolePolicy:RolePolicy", "sv-execution")).policy);
    expect(execution.Statement[0].Resource).toEqual([
      "arn:aws:logs:eu-central-1:123456789012:log-group:/sv/ecs/app:log-stream:*",
      "arn:aws:logs:eu-central-1:123456789012:log-group:/sv/ecs/nginx:log-stream:*",
    ]);
  });

  it("passes the upload settings to the app container", async () => {
    const { resources } = await record();
    expect(containerEnv(resources, "app")).toMatchObject({
      UPLOAD_PART_SIZE_MIB: "8",
      UPLOAD_PART_CONCURRENCY: "5",
      UPLOAD_INSTANCE_CONCURRENCY: "7",
      MAX_INSTANCES_IN_FLIGHT: "3",
      S3_BUCKET: "dicom-bucket",
      PREFIX: "dicom",
    });
    expect(containerEnv(resources, "nginx")).toMatchObject({ CERT_BUCKET: "cert-bucket", AUTH_MODE: "clientauth" });
  });

  it("keeps container logs for the configured time", async () => {
    const { resources } = await record();
    expect(ofType(resources, "aws:cloudwatch/logGroup:LogGroup").map((g) => [inputs(g).name, inputs(g).retentionInDays])).toEqual([
      ["/sv/ecs/app", 30],
      ["/sv/ecs/nginx", 30],
    ]);
  });

  it("declares a task volume for every writable path; both containers' roots are read-only", async () => {
    const { resources } = await record();
    const task = inputs(one(resources, "aws:ecs/taskDefinition:TaskDefinition"));
    expect(task.volumes).toEqual([{ name: "nginx-out" }, { name: "app-tmp" }]);
    const containers = json(task.containerDefinitions);
    expect(containers.map((c: any) => [c.name, c.readonlyRootFilesystem])).toEqual([["nginx", true], ["app", true]]);
    const volumes = new Set(task.volumes.map((v: any) => v.name));
    for (const c of containers) for (const m of c.mountPoints) expect(volumes.has(m.sourceVolume), `${c.name} ${m.containerPath}`).toBe(true);
  });

  it("with ECS Exec, opens the SSM channels on the task role and gives the agent its volumes", async () => {
    const { resources } = await record({ behaviour: { ...DEFAULT_BEHAVIOUR, executeCommand: true } });
    const policy = json(inputs(one(resources, "aws:iam/rolePolicy:RolePolicy", "sv-task")).policy);
    expect(policy.Statement.map((s: any) => s.Sid)).toContain("EcsExecChannels");
    expect(inputs(one(resources, "aws:ecs/taskDefinition:TaskDefinition")).volumes.map((v: any) => v.name)).toEqual(
      expect.arrayContaining(["nginx-exec-var-lib-amazon", "app-exec-var-log-amazon"]),
    );
  });
});
