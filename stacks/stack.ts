// Composes the components into one deployment. Takes typed configuration only, so
// tests and the offline plan can call it with any values.
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";
import type { StackConfig } from "./config";
import { createNetwork } from "./network";
import { createStorage } from "./storage";
import { createCertificates } from "./certificates";
import { createImages } from "./images";
import { createLoadBalancer } from "./load-balancer";
import { createService } from "./service";
import { PORTS, READY_PATH } from "./containers";

export const AVAILABILITY_ZONES = 2;
export const LOG_RETENTION_DAYS = 30;
export const ACCESS_LOG_RETENTION_DAYS = 365;

/** The tags every taggable resource carries, through the provider's default tags. */
export function deploymentTags(config: Pick<StackConfig, "appName" | "tags">): Record<string, string> {
  return { ...config.tags, deployment: config.appName };
}

export function createStack(config: StackConfig) {
  const { appName } = config;
  const provider = new aws.Provider(`${appName}-aws`, {
    region: config.region as aws.Region,
    defaultTags: { tags: deploymentTags(config) },
  });
  const opts: pulumi.CustomResourceOptions = { provider };

  const accountId = aws.getCallerIdentityOutput({}, { provider }).accountId;
  const zones = aws.getAvailabilityZonesOutput(
    { state: "available", filters: [{ name: "opt-in-status", values: ["opt-in-not-required"] }] },
    { provider },
  ).names;

  const network = createNetwork(
    {
      appName,
      region: config.region,
      accountId,
      cidr: config.vpcCidr,
      availabilityZones: Array.from({ length: AVAILABILITY_ZONES }, (_, i) =>
        zones.apply((names) => {
          if (names.length <= i) throw new Error(`${config.region} offers only ${names.length} availability zones`);
          return names[i];
        }),
      ),
      // Egress that survives losing a zone is worth its cost only when tasks are spread.
      natGatewayPerZone: config.fargate.minTasks >= 2,
      flowLogRetentionDays: LOG_RETENTION_DAYS,
    },
    opts,
  );

  const storage = createStorage(
    {
      appName,
      accountId,
      dicomBucketPrefix: config.dicomBucket,
      encryption: config.bucketEncryption,
      accessLogRetentionDays: ACCESS_LOG_RETENTION_DAYS,
    },
    opts,
  );

  const certificates = createCertificates(
    { appName, certificate: config.certificate, encryption: storage.encryption, accessLogsBucket: storage.accessLogs.name },
    opts,
  );

  const images = createImages(
    { appName, images: config.images, buildContext: path.relative(process.cwd(), path.resolve(__dirname, "..")) || "." },
    opts,
  );

  const loadBalancer = createLoadBalancer(
    {
      appName,
      vpcId: network.vpcId,
      publicSubnetIds: network.publicSubnetIds,
      allowedPeers: config.allowedPeers,
      certificateMode: certificates.mode,
      acmCertificateArn: certificates.acmCertificateArn,
      healthCheck: { port: PORTS.health, path: READY_PATH },
    },
    opts,
  );

  const service = createService(
    {
      appName,
      region: config.region,
      accountId,
      vpcId: network.vpcId,
      privateSubnetIds: network.privateSubnetIds,
      loadBalancer,
      images,
      dicomBucket: storage.dicom,
      kmsKeyArn: storage.kmsKeyArn,
      certificate: certificates,
      fargate: config.fargate,
      app: config.app,
      upload: config.upload,
      logRetentionDays: LOG_RETENTION_DAYS,
    },
    opts,
  );

  return {
    serviceUrl: pulumi.interpolate`https://${loadBalancer.dnsName}`,
    nlbDnsName: loadBalancer.dnsName,
    dicomBucketName: storage.dicom.name,
    accessLogsBucketName: storage.accessLogs.name,
    certificatesBucketName: certificates.bucketName ?? pulumi.output("(none: ACM mode)"),
    certificateMode: certificates.mode,
    authMode: certificates.authMode,
    logGroups: {
      app: service.logGroupNames.app,
      nginx: service.logGroupNames.nginx,
      flowLogs: network.flowLogGroupName,
    },
    clusterName: service.clusterName,
    serviceName: service.serviceName,
  };
}

export type StackOutputs = ReturnType<typeof createStack>;
