import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { readSettings } from "./testing/nginx-settings";
import { ConfigError } from "./config";
import { listenerIdleTimeoutSeconds } from "./load-balancer";
import { recordStack, recordStackFile, type RecordedStack } from "./offline/record";
import { readStackFile } from "./offline/stack-file";
import { ANONYMOUS, CLIENTAUTH } from "./testing/fixtures";
import { configMap, containerEnv, inputs, isTaggable, json, ofType, one, recordWith } from "./testing/harness";

const ACM_ARN = "arn:aws:acm:eu-central-1:123456789012:certificate/0b1c2d3e-aaaa-bbbb-cccc-0123456789ab";
const REPO = path.resolve(__dirname, "..");

const CA = "stacks/examples/placeholder-client-ca.crt";

function recordFixture(fixture: string): Promise<RecordedStack> {
  return recordStackFile(readStackFile(fixture, REPO), { warnings: [] });
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
    const { resources } = await recordWith({ certificate: { mode: "FROMS3", authMode: "clientauth", truststore: CA } });
    expect(inputs(one(resources, "aws:lb/listener:Listener")).protocol).toBe("TCP");
    expect(containerEnv(resources, "nginx")).toMatchObject({ CERT_MODE: "FROMS3", AUTH_MODE: "clientauth" });
    expect(JSON.stringify(inputs(one(resources, "aws:iam/rolePolicy:RolePolicy", "stowrs-test-task")).policy)).toContain("truststore.crt");
    const truststore = ofType(resources, "aws:s3/bucketObjectv2:BucketObjectv2").find((o) => inputs(o).key === "truststore.crt");
    expect(inputs(truststore!).content).toBe(fs.readFileSync(path.join(REPO, CA), "utf8"));
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
      // The log alarms need INFO lines (config/alarms.ts refuses ERROR with alarms on).
      alarms: { enabled: false },
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
      dicomPrefix: "",
      accessLogsBucketName: expect.stringMatching(/^stowrs-test-access-logs-/),
      certificatesBucketName: expect.stringMatching(/^stowrs-test-certs-/),
      certificateMode: "FROMS3",
      certificateSource: "FROMS3 generated certificate",
      authMode: "anonymous",
      serverCertificate: expect.stringMatching(/^-----BEGIN CERTIFICATE-----/),
      logGroups: { app: "/stowrs-test/ecs/app", nginx: "/stowrs-test/ecs/nginx", flowLogs: "/stowrs-test/vpc-flow-logs" },
      clusterName: expect.stringMatching(/^stowrs-test-/),
      serviceName: expect.stringMatching(/^stowrs-test-/),
      auditTrailBucketName: expect.stringMatching(/^stowrs-test-audit-trail-/),
      alarmTopicArn: "arn:aws:sns:eu-central-1:123456789012:stowrs-test-alarms",
      eventQueueUrl: "https://sqs.eu-central-1.amazonaws.com/123456789012/stowrs-test-instances",
      eventQueueArn: "arn:aws:sqs:eu-central-1:123456789012:stowrs-test-instances",
      region: "eu-central-1",
      kmsKeyArn: expect.stringMatching(/^arn:aws:kms:eu-central-1:/),
      taskRoleArn: expect.stringMatching(/^arn:aws:iam::\d{12}:role\/stowrs-test-task/),
      images: { app: expect.stringMatching(/@sha256:/), nginx: expect.stringMatching(/@sha256:/) },
      serverCertificateNotAfter: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      nlbSecurityGroupId: expect.any(String),
    });
    expect(resources.length).toBeGreaterThan(50);
  });
});

describe("tags on every taggable resource", () => {
  it("routes every AWS resource through one provider whose default tags carry deployment and the configured tags", async () => {
    const tags = { owner: "radiology-it", "cost-center": "4711" };
    const { resources } = await recordWith({ appName: "tagged", tags, certificate: { mode: "FROMS3", authMode: "clientauth", truststore: CA } });
    const providers = ofType(resources, "pulumi:providers:aws");
    expect(providers).toHaveLength(1);
    const provider = providers[0];
    const defaultTags = json(inputs(provider).defaultTags).tags;
    expect(defaultTags).toEqual({ ...tags, deployment: "tagged" });
    const providerRef = `${provider.urn}::${provider.name}-id`;

    let taggable = 0;
    for (const r of resources) {
      if (r.type === "pulumi:providers:aws") continue;
      // Key and certificate made in the program: no cloud resource, nothing to tag.
      if (r.type.startsWith("tls:") || r.type === "pulumi:providers:tls") continue;
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

describe("prod safety", () => {
  it("refuses an update (not a preview) with a placeholder peer range, naming allowedPeers", async () => {
    const config = configMap({ allowedPeers: ["198.18.0.0/15", "203.0.113.16/28"] });
    const preview: string[] = [];
    await recordStack("qa", config, undefined, { dryRun: true, warnings: preview });
    expect(preview.join("\n")).toMatch(/^stowrs-to-s3:allowedPeers: placeholder \(pulumi up refuses it\): 203\.0\.113\.16\/28 is a documentation range/);
    const update = recordStack("qa", config, undefined, { dryRun: false });
    await expect(update).rejects.toBeInstanceOf(ConfigError);
    await expect(recordStack("qa", config, undefined, { dryRun: false })).rejects.toThrow(/stowrs-to-s3:allowedPeers: placeholder: 203\.0\.113\.16\/28/);
    // Without placeholders the update goes through.
    await expect(recordStack("qa", configMap({}), undefined, { dryRun: false })).resolves.toBeDefined();
  });

  it("keeps the NLB's idle timeout at least as long as nginx's upstream timeouts, in both certificate modes", async () => {
    const arn = "arn:aws:acm:eu-central-1:123456789012:certificate/0b1c2d3e";
    for (const certificate of [{ mode: "FROMS3", authMode: "anonymous" }, { mode: "ACM", arn }]) {
      const { resources } = await recordWith({ certificate });
      const listener = inputs(one(resources, "aws:lb/listener:Listener"));
      const idle = listener.protocol === "TCP" ? listener.tcpIdleTimeoutSeconds : listenerIdleTimeoutSeconds("ACM");
      expect(listener.protocol === "TCP" || listener.tcpIdleTimeoutSeconds === undefined).toBe(true);
      const nginx = readSettings({ OUT_DIR: "/run/front", ...containerEnv(resources, "nginx") });
      expect(idle, certificate.mode).toBeGreaterThanOrEqual(nginx.upstreamTimeoutSeconds);
    }
  });

  it("keeps container and flow logs, and access logs, for the configured time", async () => {
    // The audit trail's own retention: audit-trail.test.ts.
    const { resources } = await recordWith({ logRetentionDays: 90, accessLogRetentionDays: 400, auditTrail: { enabled: false } });
    expect(ofType(resources, "aws:cloudwatch/logGroup:LogGroup").map((g) => inputs(g).retentionInDays)).toEqual([90, 90, 90]);
    const lifecycle = ofType(resources, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")
      .flatMap((r) => inputs(r).rules)
      .filter((rule: any) => rule.id === "expire-objects");
    expect(lifecycle.map((rule: any) => rule.expiration.days)).toEqual([400]);
  });

  it("protects the DICOM bucket, its key and the access logs, and the NLB, when configured", async () => {
    const { resources } = await recordWith({ protectData: true, nlbDeletionProtection: true });
    const protectedNames = resources.filter((r) => r.options.protect).map((r) => `${r.type} ${r.name}`);
    expect(protectedNames.sort()).toEqual([
      "aws:kms/key:Key stowrs-test-dicom",
      "aws:s3/bucket:Bucket stowrs-test-access-logs",
      "aws:s3/bucket:Bucket stowrs-test-audit-trail",
      "aws:s3/bucket:Bucket stowrs-test-dicom",
    ]);
    expect(inputs(one(resources, "aws:lb/loadBalancer:LoadBalancer")).enableDeletionProtection).toBe(true);
    const open = await recordWith({ protectData: false, nlbDeletionProtection: false });
    expect(open.resources.filter((r) => r.options.protect)).toEqual([]);
    expect(inputs(one(open.resources, "aws:lb/loadBalancer:LoadBalancer")).enableDeletionProtection).toBe(false);
  });
});

describe("the stack file fixtures (what the dev and prod templates held)", () => {
  it("the clientauth one waits for a steady state, protects the NLB and its data, and writes the certificate objects", async () => {
    const { resources } = await recordFixture(CLIENTAUTH);
    const service = one(resources, "aws:ecs/service:Service");
    expect(inputs(service).waitForSteadyState).toBe(true);
    expect(inputs(one(resources, "aws:lb/loadBalancer:LoadBalancer")).enableDeletionProtection).toBe(true);
    expect(resources.filter((r) => r.options.protect).map((r) => r.name).sort()).toEqual(["fixture-mtls-access-logs", "fixture-mtls-audit-trail", "fixture-mtls-dicom", "fixture-mtls-dicom"]);
    const objects = ofType(resources, "aws:s3/bucketObjectv2:BucketObjectv2").map((o) => inputs(o).key).sort();
    expect(objects).toEqual(["certificate.crt", "certificate.key", "truststore.crt"]);
  });

  it("the anonymous one is cheap and needs no domain: FROMS3, anonymous, one task, one NAT gateway, no autoscaling", async () => {
    const { resources } = await recordFixture(ANONYMOUS);
    expect(inputs(one(resources, "aws:lb/listener:Listener")).protocol).toBe("TCP");
    expect(containerEnv(resources, "nginx")).toMatchObject({ CERT_MODE: "FROMS3", AUTH_MODE: "anonymous" });
    expect(inputs(one(resources, "aws:ecs/service:Service")).desiredCount).toBe(1);
    expect(ofType(resources, "aws:ec2/natGateway:NatGateway")).toHaveLength(1);
    expect(resources.filter((r) => r.type.startsWith("aws:appautoscaling"))).toEqual([]);
  });

  it("the clientauth one runs at least two tasks across zones with autoscaling, restricted peers and client authentication", async () => {
    const { resources } = await recordFixture(CLIENTAUTH);
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
