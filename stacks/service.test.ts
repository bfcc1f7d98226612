import * as aws from "@pulumi/aws";
import { describe, expect, it } from "vitest";
import { DEFAULTS } from "./config";
import { DEFAULT_BEHAVIOUR } from "./testing/behaviour";
import { createService, type ServiceArgs } from "./service";
import { inputs, ofType, one, recordComponent } from "./testing/harness";

function args(listener: aws.lb.Listener, overrides: Partial<ServiceArgs> = {}): ServiceArgs {
  return {
    appName: "sv",
    region: "eu-central-1",
    accountId: "123456789012",
    vpcId: "vpc-1",
    privateSubnetIds: ["private-a", "private-b"],
    loadBalancer: { securityGroupId: "sg-nlb", targetGroupArn: "arn:tg", listener },
    images: { app: "repo/app@sha256:1", nginx: "repo/nginx@sha256:2", ecrRepositoryArns: ["arn:aws:ecr:eu-central-1:123456789012:repository/sv-app"] },
    dicomBucket: { name: "dicom-bucket", arn: "arn:aws:s3:::dicom-bucket" },
    kmsKeyArn: "arn:aws:kms:eu-central-1:123456789012:key/k",
    certificate: {
      mode: "FROMS3",
      authMode: "clientauth",
      bucketName: "cert-bucket",
      objectArns: ["arn:aws:s3:::cert-bucket/certificate.crt"],
      objects: [],
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

function record(overrides: Partial<ServiceArgs> = {}) {
  return recordComponent((opts) => {
    const listener = new aws.lb.Listener("sv-listener", { loadBalancerArn: "arn:lb", port: 443, defaultActions: [] }, opts);
    return createService(args(listener, overrides), opts);
  });
}

describe("createService", () => {
  it("runs the tasks in private subnets without public IPs, behind the NLB's target group on nginx:443", async () => {
    const { resources } = await record();
    const service = inputs(one(resources, "aws:ecs/service:Service"));
    expect(service).toMatchObject({
      launchType: "FARGATE",
      desiredCount: 2,
      networkConfiguration: { subnets: ["private-a", "private-b"], securityGroups: ["sv-task-id"], assignPublicIp: false },
      loadBalancers: [{ targetGroupArn: "arn:tg", containerName: "nginx", containerPort: 443 }],
      deploymentCircuitBreaker: { enable: true, rollback: true },
      propagateTags: "SERVICE",
      enableEcsManagedTags: true,
      enableExecuteCommand: false,
    });
  });

  it("allows ECS Exec into the tasks only when asked", async () => {
    const { resources } = await record({ behaviour: { ...DEFAULT_BEHAVIOUR, executeCommand: true } });
    expect(inputs(one(resources, "aws:ecs/service:Service")).enableExecuteCommand).toBe(true);
  });

  it("makes `pulumi up` wait for a steady state, with a time limit, and roll back a failing deployment", async () => {
    const { resources } = await record();
    const service = one(resources, "aws:ecs/service:Service");
    expect(inputs(service)).toMatchObject({ waitForSteadyState: true, deploymentCircuitBreaker: { enable: true, rollback: true } });
    expect(service.options.customTimeouts).toEqual({ create: "20m", update: "20m" });
  });

  it("starts tasks only after every role policy and the certificate objects exist", async () => {
    const { resources } = await recordComponent((opts) => {
      const listener = new aws.lb.Listener("sv-listener", { loadBalancerArn: "arn:lb", port: 443, defaultActions: [] }, opts);
      const object = new aws.s3.BucketObjectv2("sv-cert", { bucket: "cert-bucket", key: "certificate.crt", content: "x" }, opts);
      return createService(args(listener, { certificate: { ...args(listener).certificate, objects: [object] } }), opts);
    });
    const service = one(resources, "aws:ecs/service:Service");
    for (const r of [...ofType(resources, "aws:iam/rolePolicy:RolePolicy"), one(resources, "aws:s3/bucketObjectv2:BucketObjectv2"), one(resources, "aws:lb/listener:Listener")]) {
      expect(service.dependencies, `${r.type} ${r.name}`).toContain(r.urn);
    }
    expect(ofType(resources, "aws:iam/rolePolicy:RolePolicy")).toHaveLength(2);
  });

  it("admits traffic to tasks only from the NLB's security group, on the TLS and health ports", async () => {
    const { resources } = await record();
    const ingress = ofType(resources, "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule").map((r) => inputs(r));
    expect(ingress.map((r) => [r.securityGroupId, r.referencedSecurityGroupId, r.fromPort, r.cidrIpv4])).toEqual([
      ["sv-task-id", "sg-nlb", 8081, undefined],
      ["sv-task-id", "sg-nlb", 443, undefined],
    ]);
    const egress = ofType(resources, "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule").map((r) => inputs(r));
    expect(egress.filter((r) => r.securityGroupId === "sg-nlb").map((r) => [r.referencedSecurityGroupId, r.fromPort])).toEqual([
      ["sv-task-id", 8081],
      ["sv-task-id", 443],
    ]);
    expect(egress.filter((r) => r.securityGroupId === "sv-task-id").map((r) => [r.cidrIpv4, r.fromPort, r.toPort])).toEqual([
      ["0.0.0.0/0", 443, 443],
    ]);
  });

  it("with bearer tokens, says in the egress rule that the tasks reach the token issuer there (443 through NAT)", async () => {
    const oidc = { issuer: "https://idp.hospital.test/realms/imaging", audience: "stowrs", requiredScope: "dicomweb.write", algorithms: ["RS256"] };
    const egress = async (o: Partial<ServiceArgs>) =>
      ofType((await record(o)).resources, "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule")
        .map((r) => inputs(r))
        .filter((r) => r.cidrIpv4 === "0.0.0.0/0")
        .map((r) => [r.fromPort, r.description]);
    expect(await egress({ oidc, certificate: { ...args(undefined as never).certificate, authMode: "oidc" } })).toEqual([[443, "AWS APIs (S3, ECR, CloudWatch Logs, STS) and the OIDC issuer"]]);
    expect(await egress({})).toEqual([[443, "AWS APIs (S3, ECR, CloudWatch Logs, STS)"]]);
  });

  it("hands the running count to the scaler when it scales, and sets it when the count is fixed", async () => {
    const scaled = await record();
    expect(one(scaled.resources, "aws:ecs/service:Service").options.ignoreChanges).toEqual(["desiredCount"]);
    expect(inputs(one(scaled.resources, "aws:appautoscaling/target:Target"))).toMatchObject({ minCapacity: 2, maxCapacity: 6, resourceId: expect.stringMatching(/^service\/sv-\w+\/sv-\w+$/) });
    const fixed = await record({ fargate: { ...DEFAULTS.fargate, cpu: 512, memory: 1024, taskCount: 1, minTasks: 1, maxTasks: 1 } });
    expect(one(fixed.resources, "aws:ecs/service:Service").options.ignoreChanges).toBeUndefined();
    expect(inputs(one(fixed.resources, "aws:ecs/service:Service")).desiredCount).toBe(1);
    expect(fixed.resources.filter((r) => r.type.startsWith("aws:appautoscaling"))).toEqual([]);
  });
});
