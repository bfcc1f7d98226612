// Composes the components into one deployment. Takes typed configuration only, so
// tests and the offline plan can call it with any values.
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";
import { certificateSummary, ConfigError, type StackConfig } from "./config";
import { createNetwork } from "./network";
import { createStorage } from "./storage";
import { createCertificates } from "./certificates";
import { createImages } from "./images";
import { createLoadBalancer, UPSTREAM_TIMEOUT_SECONDS } from "./load-balancer";
import { createService } from "./service";
import { containerBehaviour, PORTS, TARGET_HEALTH_PATH } from "./containers";
import { drainTimings } from "./drain";
import { createInterfaceEndpoints } from "./interface-endpoints";
import { createS3EndpointPolicy } from "./s3-endpoint-policy";
import { taskRoleArn } from "./task-roles";
import { guardWorldIngress } from "./world-ingress";
import { objectKey } from "../app/src/storage/object-key";
import { loadSamples } from "./smoke/samples";
import { objectTags } from "./object-tags";
import { createAuditTrail } from "./audit-trail";
import { createDicomEvents } from "./events";
import { createAlarms } from "./alarms";
import type { ServerCertificateSource } from "./certificate-expiry";
import { appMemoryMiB } from "./memory-budget";

export const AVAILABILITY_ZONES = 2;

/** The tags every taggable resource carries, through the provider's default tags. */
export function deploymentTags(config: Pick<StackConfig, "appName" | "tags">): Record<string, string> {
  return { ...config.tags, deployment: config.appName };
}

/**
 * Placeholders are fine in a preview of a template; an update with them would deploy an
 * endpoint nobody can reach, or one that trusts a CA whose key is public.
 */
export function guardPlaceholders(config: Pick<StackConfig, "placeholders">, dryRun = pulumi.runtime.isDryRun()): void {
  if (config.placeholders.length === 0) return;
  if (!dryRun) {
    throw new ConfigError(config.placeholders.map((p) => `${p.key}: placeholder: ${p.message}`));
  }
  for (const p of config.placeholders) pulumi.log.warn(`${p.key}: placeholder (pulumi up refuses it): ${p.message}`);
}

/**
 * The provider for S3 objects: the stack's own while its default tags fit an object's
 * limit, else one whose default tags are trimmed to it (object-tags.ts), said in a warning.
 */
function objectProvider(config: StackConfig, provider: aws.Provider): aws.Provider {
  const tags = objectTags(deploymentTags(config));
  if (tags.dropped.length === 0) return provider;
  pulumi.log.warn(
    `stowrs-to-s3:tags: S3 objects take at most 10 tags; the certificate objects carry ${Object.keys(tags.kept).join(", ")} ` +
      `and not ${tags.dropped.join(", ")} (every other resource carries all of them)`,
  );
  return new aws.Provider(`${config.appName}-aws-objects`, {
    region: config.region as aws.Region,
    defaultTags: { tags: tags.kept },
  });
}

export function createStack(config: StackConfig) {
  guardPlaceholders(config);
  guardWorldIngress(config);
  const { appName } = config;
  const behaviour = containerBehaviour(config);
  const provider = new aws.Provider(`${appName}-aws`, {
    region: config.region as aws.Region,
    defaultTags: { tags: deploymentTags(config) },
  });
  const opts: pulumi.CustomResourceOptions = { provider };

  const caller = aws.getCallerIdentityOutput({}, { provider });
  const accountId = caller.accountId;
  const partition = aws.getPartitionOutput({}, { provider }).partition;
  // The identity running `pulumi up` administers the DICOM key: its role's ARN, not its session's.
  const deployRoleArn = config.deployRoleArn ?? aws.iam.getSessionContextOutput({ arn: caller.arn }, { provider }).issuerArn;
  const taskRole = taskRoleArn(partition, accountId, appName);
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
      flowLogRetentionDays: config.logRetentionDays,
    },
    opts,
  );

  const storage = createStorage(
    {
      appName,
      accountId,
      dicomBucketPrefix: config.dicomBucket,
      encryption: config.bucketEncryption,
      accessLogRetentionDays: config.accessLogRetentionDays,
      protectData: config.protectData,
      access: {
        partition,
        region: config.region,
        deployRoleArn,
        taskRoleArn: taskRole,
        dataReaders: config.dataReaders,
        smokeObjectKeys: loadSamples().map((sample) => objectKey(config.app.prefix, sample)),
      },
      lifecycle: config.lifecycle,
      objectLock: config.objectLock,
    },
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
      certificateMode: config.certificate.mode,
      acmCertificateArn: config.certificate.mode === "ACM" ? config.certificate.arn : undefined,
      healthCheck: { port: PORTS.health, path: TARGET_HEALTH_PATH },
      deregistrationDelaySeconds: drainTimings(behaviour.drainSeconds).deregistrationDelaySeconds,
      deletionProtection: config.nlbDeletionProtection,
      internetAccess: network.internetAccess,
    },
    opts,
  );

  const certificates = createCertificates(
    {
      appName,
      certificate: config.certificate,
      crl: config.certificateOptions.crl,
      accessLogsBucket: storage.accessLogs.name,
      serverName: loadBalancer.dnsName,
      objectProvider: config.certificate.mode === "FROMS3" && config.certificate.source === "stack" ? objectProvider(config, provider) : undefined,
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
      oidc: config.oidc,
      upload: config.upload,
      logRetentionDays: config.logRetentionDays,
      upstreamTimeoutSeconds: UPSTREAM_TIMEOUT_SECONDS[config.certificate.mode],
      behaviour,
    },
    opts,
  );

  createS3EndpointPolicy(
    {
      appName,
      endpointId: network.s3EndpointId,
      partition,
      region: config.region,
      dicomBucketArn: storage.dicom.arn,
      prefix: config.app.prefix,
      certificateObjectArns: certificates.objectArns,
    },
    opts,
  );
  if (config.network.interfaceEndpoints) {
    createInterfaceEndpoints(
      { appName, region: config.region, vpcId: network.vpcId, subnetIds: network.privateSubnetIds, clientSecurityGroupId: service.taskSecurityGroupId },
      opts,
    );
  }
  const auditTrail = createAuditTrail(
    {
      appName,
      region: config.region,
      accountId,
      dicomBucketArn: storage.dicom.arn,
      settings: config.auditTrail,
      protectData: config.protectData,
    },
    opts,
  );

  const events = createDicomEvents({ appName, dicomBucket: storage.dicom, prefix: config.app.prefix, settings: config.events }, opts);

  const alarms = createAlarms(
    {
      appName,
      accountId,
      settings: config.alarms,
      loadBalancerArn: loadBalancer.arn,
      targetGroupArn: loadBalancer.targetGroupArn,
      clusterName: service.clusterName,
      serviceName: service.serviceName,
      appLogGroupName: service.logGroupNames.app,
      appMemoryShare: appMemoryMiB(config.fargate.memory) / config.fargate.memory,
      certificate: serverCertificateSource(config.certificate, certificates.serverCertificatePem),
      deadLetterQueueName: events?.deadLetterQueueName,
    },
    opts,
  );

  return {
    serviceUrl: pulumi.interpolate`https://${loadBalancer.dnsName}`,
    nlbDnsName: loadBalancer.dnsName,
    dicomBucketName: storage.dicom.name,
    dicomPrefix: config.app.prefix,
    accessLogsBucketName: storage.accessLogs.name,
    certificatesBucketName: certificates.bucketName ?? pulumi.output("(none: ACM mode)"),
    certificateMode: certificates.mode,
    certificateSource: certificateSummary(config.certificate),
    authMode: certificates.authMode,
    serverCertificate: certificates.serverCertificatePem ?? pulumi.output("(not known to the stack)"),
    logGroups: {
      app: service.logGroupNames.app,
      nginx: service.logGroupNames.nginx,
      flowLogs: network.flowLogGroupName,
    },
    clusterName: service.clusterName,
    serviceName: service.serviceName,
    auditTrailBucketName: auditTrail?.bucketName ?? pulumi.output("(audit trail off)"),
    alarmTopicArn: alarms?.topicArn ?? pulumi.output("(alarms off)"),
    eventQueueUrl: events?.queueUrl ?? pulumi.output("(events off)"),
    eventQueueArn: events?.queueArn ?? pulumi.output("(events off)"),
    region: config.region,
    kmsKeyArn: storage.kmsKeyArn ?? pulumi.output("(none: SSE-S3)"),
    taskRoleArn: service.taskRoleArn,
    images: { app: images.app, nginx: images.nginx },
    serverCertificateNotAfter: certificates.serverCertificateNotAfter ?? pulumi.output("(not known to the stack)"),
    // The post-deploy smoke (deploy-smoke.ts) admits the CI runner here for its duration.
    nlbSecurityGroupId: loadBalancer.securityGroupId,
  };
}

/** What the certificate expiry alarm can watch: ACM's certificate, the one the stack wrote, or nothing it can see. */
function serverCertificateSource(certificate: StackConfig["certificate"], writtenPem: pulumi.Output<string> | undefined): ServerCertificateSource {
  if (certificate.mode === "ACM") return { kind: "acm", arn: certificate.arn };
  if (certificate.source === "stack" && writtenPem) return { kind: "pem", pem: writtenPem };
  return { kind: "external" };
}

export type StackOutputs = ReturnType<typeof createStack>;
