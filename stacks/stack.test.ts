import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { recordStack, type RecordedStack } from "./offline/record";
import { readStackFile } from "./offline/stack-file";
import { containerEnv, inputs, isTaggable, json, ofType, one, recordWith } from "./testing/harness";

const ACM_ARN = "arn:aws:acm:eu-central-1:123456789012:certificate/0b1c2d3e-aaaa-bbbb-cccc-0123456789ab";
const REPO = path.resolve(__dirname, "..");

function recordStackFile(stack: string): Promise<RecordedStack> {
  const file = readStackFile(stack, REPO);
  return recordStack(file.stack, file.config);
}

describe("createStack topology per certificate mode", () => {
  it("FROMS3 anonymous: TCP pass-through, a certificate bucket, nginx told to fetch from it", async () => {
    const { resources } = await recordWith({ certificate: { mode: "FROMS3", authMode: "anonymous" } });
    expect(inputs(one(resources, "aws:lb/listener:Listener")).protocol).toBe("TCP");
    expect(one(resources, "aws:s3/bucket:Bucket", "stowrs-test-certificates")).toBeDefined();
    expect(containerEnv(resources, "nginx")).toMatchObject({ CERT_MODE: "FROMS3", AUTH_MODE: "anonymous" });
    const read = json(inputs(one(resources, "aws:iam/rolePolicy:RolePolicy", "stowrs-test-task")).policy).Statement.find(
      (s: any) => s.Sid === "ReadTlsMaterial",
    );
    expect(read.Resource.map((r: string) => r.split("/").pop())).toEqual(["certificate.crt", "certificate.key"]);
  });

  it("FROMS3 clientauth: nginx checks client certificates and may read the trust store", async () => {
    const { resources } = await recordWith({ certificate: { mode: "FROMS3", authMode: "clientauth" } });
    expect(inputs(one(resources, "aws:lb/listener:Listener")).protocol).toBe("TCP");
    expect(containerEnv(resources, "nginx")).toMatchObject({ CERT_MODE: "FROMS3", AUTH_MODE: "clientauth" });
    expect(JSON.stringify(inputs(one(resources, "aws:iam/rolePolicy:RolePolicy", "stowrs-test-task")).policy)).toContain("truststore.crt");
  });

  it("ACM: TLS ends at the NLB with a TLS 1.3 policy, no certificate bucket, no certificate reads", async () => {
    const { resources, outputs } = await recordWith({ certificate: { mode: "ACM", arn: ACM_ARN } });
    expect(inputs(one(resources, "aws:lb/listener:Listener"))).toMatchObject({
      protocol: "TLS",
      certificateArn: ACM_ARN,
      sslPolicy: expect.stringMatching(/^ELBSecurityPolicy-TLS13-/),
    });
    expect(inputs(one(resources, "aws:lb/targetGroup:TargetGroup")).protocol).toBe("TLS");
    expect(resources.filter((r) => r.name.startsWith("stowrs-test-certificates"))).toEqual([]);
    expect(containerEnv(resources, "nginx")).not.toHaveProperty("CERT_BUCKET");
    expect(JSON.stringify(inputs(one(resources, "aws:iam/rolePolicy:RolePolicy", "stowrs-test-task")).policy)).not.toContain(
      "ReadTlsMaterial",
    );
    expect(outputs.certificatesBucketName).toBe("(none: ACM mode)");
  });
});

describe("createStack wiring", () => {
  it("admits exactly the configured peers on 443", async () => {
    const peers = ["192.0.2.0/24", "198.51.100.7/32", "203.0.113.128/25"];
    const { resources } = await recordWith({ allowedPeers: peers });
    const open = ofType(resources, "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
      .map((r) => inputs(r))
      .filter((r) => r.cidrIpv4 !== undefined);
    expect(open.map((r) => r.cidrIpv4).sort()).toEqual([...peers].sort());
    for (const rule of open) expect([rule.securityGroupId, rule.fromPort, rule.toPort]).toEqual(["stowrs-test-nlb-id", 443, 443]);
  });

  it("passes the upload and app settings from config into the app container", async () => {
    const { resources } = await recordWith({
      upload: { partSizeMiB: 32, partConcurrency: 9, instanceConcurrency: 17 },
      app: { prefix: "in", wadoUrl: "https://pacs.example.org/wado", logLevel: "ERROR", responseDelay: 3 },
    });
    expect(containerEnv(resources, "app")).toMatchObject({
      UPLOAD_PART_SIZE_MIB: "32",
      UPLOAD_PART_CONCURRENCY: "9",
      UPLOAD_INSTANCE_CONCURRENCY: "17",
      PREFIX: "in",
      WADOURL: "https://pacs.example.org/wado",
      LOGLEVEL: "ERROR",
      RESPONSEDELAY: "3",
      S3_BUCKET: expect.stringMatching(/^stowrs-test-dicom-/),
      AWS_REGION: "eu-central-1",
    });
  });

  it("points the app at the DICOM bucket the task role may write to", async () => {
    const { resources, outputs } = await recordWith({ app: { prefix: "in" } });
    const bucket = containerEnv(resources, "app").S3_BUCKET;
    expect(bucket).toBe(outputs.dicomBucketName);
    const write = json(inputs(one(resources, "aws:iam/rolePolicy:RolePolicy", "stowrs-test-task")).policy).Statement[0];
    expect(write.Resource).toBe(`arn:aws:s3:::${bucket}/in/*`);
  });

  it("uses prebuilt images when given and builds none", async () => {
    const { resources } = await recordWith({ images: { app: "ghcr.io/example/app:1", nginx: "ghcr.io/example/nginx:1" } });
    expect(ofType(resources, "awsx:ecr:Image")).toEqual([]);
    const task = json(inputs(one(resources, "aws:ecs/taskDefinition:TaskDefinition")).containerDefinitions);
    expect(task.map((c: any) => c.image)).toEqual(["ghcr.io/example/nginx:1", "ghcr.io/example/app:1"]);
  });

  it("exports the service URL, buckets, log groups, cluster and service names", async () => {
    const { outputs, resources } = await recordWith();
    const nlbDns = `stowrs-test-nlb-${""}`;
    expect(outputs).toEqual({
      serviceUrl: `https://${outputs.nlbDnsName}`,
      nlbDnsName: expect.stringContaining(nlbDns),
      dicomBucketName: expect.stringMatching(/^stowrs-test-dicom-/),
      accessLogsBucketName: expect.stringMatching(/^stowrs-test-access-logs-/),
      certificatesBucketName: expect.stringMatching(/^stowrs-test-certs-/),
      certificateMode: "FROMS3",
      authMode: "anonymous",
      logGroups: { app: "/stowrs-test/ecs/app", nginx: "/stowrs-test/ecs/nginx", flowLogs: "/stowrs-test/vpc-flow-logs" },
      clusterName: expect.stringMatching(/^stowrs-test-/),
      serviceName: expect.stringMatching(/^stowrs-test-/),
    });
    expect(resources.length).toBeGreaterThan(50);
  });
});

describe("tags on every taggable resource", () => {
  it("routes every AWS resource through one provider whose default tags carry deployment and the configured tags", async () => {
    const tags = { owner: "radiology-it", "cost-center": "4711" };
    const { resources } = await recordWith({ appName: "tagged", tags, certificate: { mode: "FROMS3", authMode: "clientauth" } });
    const providers = ofType(resources, "pulumi:providers:aws");
    expect(providers).toHaveLength(1);
    const provider = providers[0];
    const defaultTags = json(inputs(provider).defaultTags).tags;
    expect(defaultTags).toEqual({ ...tags, deployment: "tagged" });
    const providerRef = `${provider.urn}::${provider.name}-id`;

    let taggable = 0;
    for (const r of resources) {
      if (r.type === "pulumi:providers:aws") continue;
      if (r.type === "awsx:ecr:Image") {
        // A component: it builds and pushes an image, and hands the provider to what it creates.
        expect(r.options.providers?.aws, r.name).toBe(providerRef);
        continue;
      }
      expect(r.type, `${r.name} is not an AWS resource; decide how it gets tagged`).toMatch(/^aws:/);
      expect(r.provider, `${r.type} ${r.name} bypasses the tagged provider`).toBe(providerRef);
      if (!isTaggable(r.type)) continue;
      taggable += 1;
      const effective = { ...defaultTags, ...(inputs(r).tags ?? {}) };
      expect(effective, `${r.type} ${r.name}`).toMatchObject({ ...tags, deployment: "tagged" });
    }
    // The walk covered the stack, not an empty list.
    expect(taggable).toBeGreaterThan(25);
  });

  it("knows taggable from untaggable types", () => {
    expect(isTaggable("aws:s3/bucket:Bucket")).toBe(true);
    expect(isTaggable("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")).toBe(true);
    expect(isTaggable("aws:s3/bucketPolicy:BucketPolicy")).toBe(false);
    expect(isTaggable("aws:ec2/routeTableAssociation:RouteTableAssociation")).toBe(false);
  });

  it("carries the tags onto the tasks ECS starts", async () => {
    const { resources } = await recordWith();
    expect(inputs(one(resources, "aws:ecs/service:Service"))).toMatchObject({ propagateTags: "SERVICE", enableEcsManagedTags: true });
  });
});

describe("the committed stack files", () => {
  it("dev is cheap and needs no domain: FROMS3, anonymous, one task, one NAT gateway, no autoscaling", async () => {
    const { resources } = await recordStackFile("dev");
    expect(inputs(one(resources, "aws:lb/listener:Listener")).protocol).toBe("TCP");
    expect(containerEnv(resources, "nginx")).toMatchObject({ CERT_MODE: "FROMS3", AUTH_MODE: "anonymous" });
    expect(inputs(one(resources, "aws:ecs/service:Service")).desiredCount).toBe(1);
    expect(ofType(resources, "aws:ec2/natGateway:NatGateway")).toHaveLength(1);
    expect(resources.filter((r) => r.type.startsWith("aws:appautoscaling"))).toEqual([]);
  });

  it("prod runs at least two tasks across zones with autoscaling, restricted peers and client authentication", async () => {
    const { resources } = await recordStackFile("prod");
    const service = inputs(one(resources, "aws:ecs/service:Service"));
    expect(service.desiredCount).toBeGreaterThanOrEqual(2);
    expect(inputs(one(resources, "aws:appautoscaling/target:Target")).minCapacity).toBeGreaterThanOrEqual(2);
    const zones = new Set(
      ofType(resources, "aws:ec2/subnet:Subnet")
        .filter((s) => service.networkConfiguration.subnets.includes(`${s.name}-id`))
        .map((s) => inputs(s).availabilityZone),
    );
    expect(zones.size).toBeGreaterThanOrEqual(2);
    expect(ofType(resources, "aws:ec2/natGateway:NatGateway")).toHaveLength(zones.size);
    const peers = ofType(resources, "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule").map((r) => inputs(r).cidrIpv4);
    expect(peers.filter(Boolean).length).toBeGreaterThan(0);
    expect(peers).not.toContain("0.0.0.0/0");
    const env = containerEnv(resources, "nginx");
    expect(env.AUTH_MODE === "clientauth" || env.CERT_MODE === "ACM").toBe(true);
  });
});
