// One line of "key settings" per resource for the plan's table: what a reviewer wants
// to see at a glance, not every input.
import { X509Certificate } from "node:crypto";
import type { RecordedResource } from "./record";

type Inputs = Record<string, any>;
type Summarizer = (inputs: Inputs, resource: RecordedResource) => (string | undefined | false)[];

const SUMMARIES: Record<string, Summarizer> = {
  "pulumi:providers:aws": (i) => [`region=${i.region}`, `defaultTags=${formatTags(parseJson(i.defaultTags)?.tags)}`],
  "aws:ec2/vpc:Vpc": (i) => [`cidr=${i.cidrBlock}`],
  "aws:ec2/subnet:Subnet": (i) => [`cidr=${i.cidrBlock}`, `az=${i.availabilityZone}`, `publicIp=${i.mapPublicIpOnLaunch}`],
  "aws:ec2/route:Route": (i) => [
    `${i.destinationCidrBlock} -> ${i.gatewayId ? `igw ${i.gatewayId}` : i.natGatewayId ? `nat ${i.natGatewayId}` : "?"}`,
  ],
  "aws:ec2/natGateway:NatGateway": (i) => [`subnet=${i.subnetId}`],
  "aws:ec2/vpcEndpoint:VpcEndpoint": (i) => [
    `${i.vpcEndpointType} ${i.serviceName}`,
    i.vpcEndpointType === "Interface" ? `subnets=${(i.subnetIds ?? []).length}  privateDns=${i.privateDnsEnabled === true}` : `routeTables=${(i.routeTableIds ?? []).length}`,
  ],
  "aws:ec2/vpcEndpointPolicy:VpcEndpointPolicy": (i) => [statementSids(i.policy)],
  "aws:ec2/flowLog:FlowLog": (i) => [`traffic=${i.trafficType}`, `to=${i.logDestinationType}`],
  "aws:ec2/securityGroup:SecurityGroup": (i) => [i.description],
  "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": (i) => [
    `in ${i.ipProtocol}/${i.fromPort}`,
    `from ${i.cidrIpv4 ?? `sg ${i.referencedSecurityGroupId}`}`,
  ],
  "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": (i) => [
    `out ${i.ipProtocol}/${i.fromPort}`,
    `to ${i.cidrIpv4 ?? `sg ${i.referencedSecurityGroupId}`}`,
  ],
  "aws:cloudwatch/logGroup:LogGroup": (i) => [i.name, `retention=${i.retentionInDays}d`],
  "aws:kms/key:Key": (i) => [`rotation=${i.enableKeyRotation}`, i.policy ? `policy: ${statementSids(i.policy)}` : "policy: AWS default (the account's IAM decides)"],
  "aws:s3/bucket:Bucket": (i) => [`prefix=${i.bucketPrefix}`, `forceDestroy=${i.forceDestroy}`],
  "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": (i) => {
    const rule = i.rules?.[0] ?? {};
    return [rule.applyServerSideEncryptionByDefault?.sseAlgorithm, rule.bucketKeyEnabled && "bucketKey"];
  },
  "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": (i) => [
    [i.blockPublicAcls, i.blockPublicPolicy, i.ignorePublicAcls, i.restrictPublicBuckets].every(Boolean) ? "all public access blocked" : "PUBLIC ACCESS ALLOWED",
  ],
  "aws:s3/bucketVersioning:BucketVersioning": (i) => [`versioning=${i.versioningConfiguration?.status}`],
  "aws:s3/bucketOwnershipControls:BucketOwnershipControls": (i) => [i.rule?.objectOwnership],
  "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": (i) => [(i.rules ?? []).map(lifecycleRule).join(", ")],
  "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration": (i) => [
    `${i.rule?.defaultRetention?.mode} ${i.rule?.defaultRetention?.days ?? i.rule?.defaultRetention?.years}${i.rule?.defaultRetention?.days ? "d" : "y"}`,
  ],
  "aws:s3/bucketNotification:BucketNotification": (i) => [`${i.bucket}`, i.eventbridge && "to EventBridge"],
  "aws:cloudtrail/trail:Trail": (i) => [`to ${i.s3BucketName}`, `selectors: ${(i.advancedEventSelectors ?? []).map((s: Inputs) => s.name).join("; ")}`, i.enableLogFileValidation && "validated"],
  "aws:sqs/queue:Queue": (i) => [
    i.sqsManagedSseEnabled ? "SSE-SQS" : i.kmsMasterKeyId ? `SSE-KMS ${i.kmsMasterKeyId}` : "UNENCRYPTED",
    `retention=${i.messageRetentionSeconds}s`,
    i.redrivePolicy && `maxReceiveCount=${parseJson(i.redrivePolicy)?.maxReceiveCount}`,
  ],
  "aws:sqs/queuePolicy:QueuePolicy": (i) => [statementSids(i.policy)],
  "aws:cloudwatch/eventRule:EventRule": (i) => [eventKeys(i.eventPattern)],
  "aws:cloudwatch/eventTarget:EventTarget": (i) => [`${i.rule} -> ${i.arn}`, i.deadLetterConfig?.arn && `dlq=${i.deadLetterConfig.arn}`],
  "aws:sns/topic:Topic": (i) => [i.name],
  "aws:sns/topicSubscription:TopicSubscription": (i) => [`${i.protocol} ${i.endpoint}`],
  "aws:cloudwatch/logMetricFilter:LogMetricFilter": (i) => [`${i.metricTransformation?.namespace}/${i.metricTransformation?.name}`, i.pattern],
  "aws:cloudwatch/metricAlarm:MetricAlarm": (i) => [alarmCondition(i), `-> ${[].concat(i.alarmActions ?? []).join(",") || "NO ACTION"}`],
  "aws:scheduler/schedule:Schedule": (i) => [i.scheduleExpression, `-> ${i.target?.arn}`],
  "aws:s3/bucketLogging:BucketLogging": (i) => [`to ${i.targetBucket}/${i.targetPrefix}`],
  "aws:s3/bucketPolicy:BucketPolicy": (i) => [statementSids(i.policy)],
  "aws:iam/role:Role": (i) => [`assumedBy=${principals(i.assumeRolePolicy)}`],
  "aws:iam/rolePolicy:RolePolicy": (i) => [statementSids(i.policy)],
  "aws:ecr/repository:Repository": (i) => [`scanOnPush=${i.imageScanningConfiguration?.scanOnPush}`],
  "awsx:ecr:Image": (i) => [`build ${i.dockerfile}`, `context=${i.context}`, i.platform],
  "aws:lb/loadBalancer:LoadBalancer": (i) => [
    i.loadBalancerType,
    i.internal ? "internal" : "internet-facing",
    `subnets=${(i.subnets ?? []).length}`,
    `deletionProtection=${i.enableDeletionProtection === true}`,
  ],
  "aws:lb/targetGroup:TargetGroup": (i) => [
    `${i.protocol}/${i.port}`,
    `target=${i.targetType}`,
    `clientIp=${i.preserveClientIp}`,
    `health=${i.healthCheck?.protocol}:${i.healthCheck?.port}${i.healthCheck?.path ?? ""}`,
    i.deregistrationDelay !== undefined && `deregistrationDelay=${i.deregistrationDelay}s`,
  ],
  "aws:lb/listener:Listener": (i) => [
    `${i.protocol}/${i.port}`,
    i.sslPolicy,
    i.certificateArn && `cert=${i.certificateArn}`,
    i.tcpIdleTimeoutSeconds !== undefined && `idleTimeout=${i.tcpIdleTimeoutSeconds}s`,
  ],
  "aws:s3/bucketObjectv2:BucketObjectv2": (i, r) => [
    `${i.bucket}/${i.key}`,
    r.secretInputs.includes("content") ? "content=[secret]" : `content=${pemSummary(i.content)}`,
    `sse=${i.serverSideEncryption ?? "bucket default"}`,
  ],
  "tls:index/privateKey:PrivateKey": (i) => [`${i.algorithm}${i.rsaBits ? ` ${i.rsaBits}` : ""}`, "key kept as a secret in the stack's state"],
  "tls:index/selfSignedCert:SelfSignedCert": (i) => [`dns=${(i.dnsNames ?? []).join(",")}`, `valid ${i.validityPeriodHours}h, renewed ${i.earlyRenewalHours}h before expiry`],
  "aws:ecs/cluster:Cluster": (i) => [(i.settings ?? []).map((s: Inputs) => `${s.name}=${s.value}`).join(" ")],
  "aws:ecs/taskDefinition:TaskDefinition": (i) => [`cpu=${i.cpu}`, `memory=${i.memory}`, containers(i.containerDefinitions)],
  "aws:ecs/service:Service": (i, r) => [
    `desired=${i.desiredCount}`,
    `waitForSteadyState=${i.waitForSteadyState === true}${r.options.customTimeouts?.update ? ` (timeout ${r.options.customTimeouts.update})` : ""}`,
    `circuitBreaker=${i.deploymentCircuitBreaker?.enable ? (i.deploymentCircuitBreaker.rollback ? "rollback" : "on") : "off"}`,
    `publicIp=${i.networkConfiguration?.assignPublicIp}`,
    `propagateTags=${i.propagateTags}`,
    r.options.ignoreChanges && `ignores=${r.options.ignoreChanges.join(",")}`,
  ],
  "aws:appautoscaling/target:Target": (i) => [`tasks ${i.minCapacity}..${i.maxCapacity}`],
  "aws:appautoscaling/policy:Policy": (i) => [
    `${i.targetTrackingScalingPolicyConfiguration?.predefinedMetricSpecification?.predefinedMetricType} -> ${i.targetTrackingScalingPolicyConfiguration?.targetValue}%`,
  ],
};

export function summarize(resource: RecordedResource): string {
  const summarizer = SUMMARIES[resource.type];
  const parts = summarizer ? summarizer(resource.inputs as Inputs, resource) : [];
  if (resource.options.retainOnDelete) parts.push("retained on destroy");
  if (resource.options.protect) parts.push("protected");
  return parts.filter((p): p is string => typeof p === "string" && p !== "").join("  ");
}

/** "aws:ec2/subnet:Subnet" -> "aws:ec2:Subnet"; other tokens unchanged. */
export function shortType(type: string): string {
  const m = /^([^:]+):([^/:]+)\/[^:]+:(.+)$/.exec(type);
  return m ? `${m[1]}:${m[2]}:${m[3]}` : type;
}

function pemSummary(content: unknown): string {
  if (typeof content !== "string") return "?";
  const certs = content.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  if (certs.length === 0) return `${content.length} characters`;
  const subjects = certs.map((c) => {
    try {
      return new X509Certificate(c).subject.replaceAll("\n", ", ");
    } catch {
      return "unparsable";
    }
  });
  return `${certs.length} PEM certificate(s): ${subjects.map((s) => `"${s}"`).join("; ")}`;
}

function lifecycleRule(r: Inputs): string {
  const details = [
    ...(r.transitions ?? []).map((t: Inputs) => `${t.storageClass} after ${t.days}d`),
    r.noncurrentVersionExpiration && `noncurrent ${r.noncurrentVersionExpiration.noncurrentDays}d`,
    r.expiration?.days !== undefined && `expire ${r.expiration.days}d`,
    r.abortIncompleteMultipartUpload && `${r.abortIncompleteMultipartUpload.daysAfterInitiation}d`,
  ].filter(Boolean);
  return details.length > 0 ? `${r.id} (${details.join(", ")})` : r.id;
}

/** "metric > threshold for N x period": enough to check an alarm against the README's table. */
function alarmCondition(i: Inputs): string {
  const op: Record<string, string> = { GreaterThanThreshold: ">", LessThanThreshold: "<", GreaterThanOrEqualToThreshold: ">=", LessThanOrEqualToThreshold: "<=" };
  const returned = (i.metricQueries ?? []).find((q: Inputs) => q.returnData);
  const metric = returned ? `(${returned.expression})` : `${i.namespace}/${i.metricName}${i.statistic ? ` ${i.statistic}` : ""}`;
  const period = i.period ?? i.metricQueries?.find((q: Inputs) => q.metric)?.metric?.period;
  return `${metric} ${op[i.comparisonOperator] ?? i.comparisonOperator} ${i.threshold} for ${i.evaluationPeriods} x ${period}s`;
}

function eventKeys(pattern: unknown): string {
  const p = parseJson(pattern);
  return `${(p?.["detail-type"] ?? []).join("|")} ${JSON.stringify(p?.detail?.object?.key ?? [])}`;
}

function parseJson(text: unknown): any {
  if (typeof text !== "string") return text;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function formatTags(tags: Record<string, string> | undefined): string {
  return tags ? Object.entries(tags).map(([k, v]) => `${k}:${v}`).join(",") : "none";
}

function statementSids(policy: unknown): string {
  const doc = parseJson(policy);
  return (doc?.Statement ?? []).map((s: Inputs) => s.Sid ?? `${s.Effect} ${[].concat(s.Action).join(",")}`).join(", ");
}

function principals(policy: unknown): string {
  const doc = parseJson(policy);
  return (doc?.Statement ?? []).map((s: Inputs) => [].concat(s.Principal?.Service ?? s.Principal?.AWS ?? "?").join(",")).join(",");
}

function containers(definitions: unknown): string {
  const list = parseJson(definitions) ?? [];
  return list
    .map((c: Inputs) => {
      const env = Object.fromEntries((c.environment ?? []).map((e: Inputs) => [e.name, e.value]));
      const keys =
        c.name === "app"
          ? ["S3_BUCKET", "PREFIX", "LOGLEVEL", "DUPLICATE_POLICY", "UPLOAD_PART_SIZE_MIB", "UPLOAD_PART_CONCURRENCY", "UPLOAD_INSTANCE_CONCURRENCY", "MAX_INSTANCES_IN_FLIGHT"]
          : ["CERT_MODE", "AUTH_MODE", "CERT_BUCKET", "CRL_REQUIRED"];
      const shown = keys.filter((k) => env[k] !== undefined).map((k) => `${k}=${env[k]}`);
      const label = c.dockerLabels?.["stowrs-to-s3.certificates-sha256"];
      const posture = [c.readonlyRootFilesystem === true ? "readonlyRoot" : "WRITABLE ROOT", `stopTimeout=${c.stopTimeout}`];
      return `${c.name}[${[`memory=${c.memory}`, ...posture, ...shown, ...(label ? [`certificates-sha256=${label.slice(0, 12)}`] : [])].join(" ")}]`;
    })
    .join(" ");
}
