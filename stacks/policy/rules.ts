// The deployment's guard rails as @pulumi/policy rules. They run in `pulumi preview`
// (CI passes --policy-pack stacks/policy) and, offline, over the recorded graphs of every
// stack file (see stacks/policy/evaluate.ts and its tests).
//
// Rules match on type tokens rather than @pulumi/aws classes so the pack loads without
// the AWS SDK, and accept JSON documents both as text (how programs pass them) and as
// objects (how some engines hand them over).
import type {
  PolicyResource,
  ReportViolation,
  ResourceValidationArgs,
  ResourceValidationPolicy,
  StackValidationArgs,
  StackValidationPolicy,
} from "@pulumi/policy";
import { leastPrivilegePolicies } from "./least-privilege";

export const T = {
  bucket: "aws:s3/bucket:Bucket",
  encryption: "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
  publicAccessBlock: "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
  bucketPolicy: "aws:s3/bucketPolicy:BucketPolicy",
  bucketAcl: "aws:s3/bucketAcl:BucketAcl",
  listener: "aws:lb/listener:Listener",
  ingressRule: "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
  securityGroupRule: "aws:ec2/securityGroupRule:SecurityGroupRule",
  securityGroup: "aws:ec2/securityGroup:SecurityGroup",
  queue: "aws:sqs/queue:Queue",
  metricAlarm: "aws:cloudwatch/metricAlarm:MetricAlarm",
  ecsService: "aws:ecs/service:Service",
} as const;

/** Listener policies that offer TLS 1.3 and nothing older than TLS 1.2. */
export const TLS13_POLICY_PREFIX = "ELBSecurityPolicy-TLS13-";
const WORLD = ["0.0.0.0/0", "::/0"];

export const bucketsEncrypted: StackValidationPolicy = {
  name: "s3-buckets-encrypted",
  description: "Every S3 bucket has default encryption: SSE-KMS with a bucket key, or SSE-S3.",
  enforcementLevel: "mandatory",
  validateStack: (args, report) => {
    for (const bucket of ofType(args, T.bucket)) {
      const configs = settingsFor(args, bucket, T.encryption);
      if (configs.length === 0) {
        report(`bucket ${bucket.name} has no default encryption configuration`, bucket.urn);
        continue;
      }
      for (const config of configs) {
        for (const rule of config.props.rules ?? []) {
          const algorithm = rule?.applyServerSideEncryptionByDefault?.sseAlgorithm;
          if (algorithm === "aws:kms" || algorithm === "aws:kms:dsse") {
            if (rule.bucketKeyEnabled !== true) report(`bucket ${bucket.name} uses SSE-KMS without a bucket key`, config.urn);
          } else if (algorithm !== "AES256") {
            report(`bucket ${bucket.name} has encryption algorithm ${JSON.stringify(algorithm)}`, config.urn);
          }
        }
      }
    }
  },
};

export const noPublicBuckets: StackValidationPolicy = {
  name: "s3-no-public-access",
  description: "Every S3 bucket blocks all public access, grants nothing to everyone, and uses no public ACL.",
  enforcementLevel: "mandatory",
  validateStack: (args, report) => {
    for (const bucket of ofType(args, T.bucket)) {
      const blocks = settingsFor(args, bucket, T.publicAccessBlock);
      const blocked = blocks.some((b) =>
        ["blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"].every((k) => b.props[k] === true),
      );
      if (!blocked) report(`bucket ${bucket.name} does not block all four kinds of public access`, bucket.urn);
      if (typeof bucket.props.acl === "string" && bucket.props.acl.startsWith("public")) {
        report(`bucket ${bucket.name} has the public ACL ${bucket.props.acl}`, bucket.urn);
      }
    }
    for (const acl of ofType(args, T.bucketAcl)) {
      if (typeof acl.props.acl === "string" && acl.props.acl.startsWith("public")) {
        report(`${acl.name} sets the public ACL ${acl.props.acl}`, acl.urn);
      }
    }
    for (const policy of ofType(args, T.bucketPolicy)) {
      for (const statement of statements(policy.props.policy)) {
        if (statement.Effect === "Allow" && grantsEveryone(statement.Principal) && !statement.Condition) {
          report(`${policy.name} allows ${JSON.stringify(statement.Action)} to everyone`, policy.urn);
        }
      }
    }
  },
};

export const tlsListeners: ResourceValidationPolicy = {
  name: "lb-tls-1-3-policy",
  description: `Load balancer listeners that terminate TLS use a TLS 1.3 security policy (${TLS13_POLICY_PREFIX}*).`,
  enforcementLevel: "mandatory",
  validateResource: (args, report) => {
    if (args.type !== T.listener) return;
    const protocol = args.props.protocol;
    if (protocol !== "TLS" && protocol !== "HTTPS") return;
    const policy = args.props.sslPolicy;
    if (typeof policy !== "string" || !policy.startsWith(TLS13_POLICY_PREFIX)) {
      report(`${protocol} listener uses ${policy ?? "the default"} security policy; use ${TLS13_POLICY_PREFIX}* (TLS 1.3, nothing before 1.2)`);
    }
  },
};

export const noWorldIngress: ResourceValidationPolicy = {
  name: "no-world-ingress",
  description: "No security group admits 0.0.0.0/0 or ::/0. Advisory by default, mandatory in prod (stacks/policy/config/prod.json).",
  enforcementLevel: "advisory",
  validateResource: (args, report) => {
    const p = args.props;
    if (args.type === T.ingressRule) {
      for (const cidr of [p.cidrIpv4, p.cidrIpv6]) {
        if (WORLD.includes(cidr)) report(`ingress rule admits ${cidr} on port ${p.fromPort}`);
      }
    } else if (args.type === T.securityGroupRule && p.type === "ingress") {
      for (const cidr of [...(p.cidrBlocks ?? []), ...(p.ipv6CidrBlocks ?? [])]) {
        if (WORLD.includes(cidr)) report(`ingress rule admits ${cidr} on port ${p.fromPort}`);
      }
    } else if (args.type === T.securityGroup) {
      for (const rule of p.ingress ?? []) {
        for (const cidr of [...(rule.cidrBlocks ?? []), ...(rule.ipv6CidrBlocks ?? [])]) {
          if (WORLD.includes(cidr)) report(`inline ingress admits ${cidr} on port ${rule.fromPort}`);
        }
      }
    }
  },
};

export const deploymentTag: ResourceValidationPolicy = {
  name: "deployment-tag",
  description: "Every AWS resource goes through a provider whose default tags include `deployment`, or carries the tag itself.",
  enforcementLevel: "mandatory",
  validateResource: (args: ResourceValidationArgs, report: ReportViolation) => {
    if (!args.type.startsWith("aws:")) return;
    const own = args.props.tags?.deployment;
    const fromProvider = defaultTagsOf(args.provider?.props)?.deployment;
    const value = own ?? fromProvider;
    if (typeof value !== "string" || value.trim() === "") {
      report(`${args.name} has no deployment tag: give its AWS provider defaultTags.tags.deployment`);
    }
  },
};

export const queuesEncrypted: ResourceValidationPolicy = {
  name: "sqs-queues-encrypted",
  description: "Every SQS queue is encrypted at rest (SSE-SQS or SSE-KMS): instance events name the objects they are about.",
  enforcementLevel: "mandatory",
  validateResource: (args, report) => {
    if (args.type !== T.queue) return;
    if (args.props.sqsManagedSseEnabled !== true && !args.props.kmsMasterKeyId) report(`queue ${args.name} is not encrypted at rest`);
  },
};

export const alarmsNotify: ResourceValidationPolicy = {
  name: "alarms-notify",
  description: "Every CloudWatch alarm has an action: an alarm nobody hears is a graph.",
  enforcementLevel: "mandatory",
  validateResource: (args, report) => {
    if (args.type !== T.metricAlarm) return;
    const actions = args.props.alarmActions;
    if (args.props.actionsEnabled === false || !Array.isArray(actions) || actions.length === 0) report(`alarm ${args.props.name ?? args.name} notifies nobody`);
  },
};

/** Metrics the on-call engineer must hear about wherever the service runs (stacks/alarms.ts). */
export const REQUIRED_ALARM_METRICS = ["UnHealthyHostCount", "RunningTaskCount", "CPUUtilization", "MemoryUtilization", "RefusedInstances", "CapacityRejections", "S3UnavailableRequests"];

export const operationalAlarms: StackValidationPolicy = {
  name: "operational-alarms",
  description: `A stack that runs the service has alarms with actions on ${REQUIRED_ALARM_METRICS.join(", ")}. Off by default; mandatory in prod (stacks/policy/config/prod.json).`,
  enforcementLevel: "disabled",
  validateStack: (args, report) => {
    if (ofType(args, T.ecsService).length === 0) return;
    const watched = new Set<string>();
    for (const alarm of ofType(args, T.metricAlarm)) {
      if (!Array.isArray(alarm.props.alarmActions) || alarm.props.alarmActions.length === 0) continue;
      if (alarm.props.metricName) watched.add(alarm.props.metricName);
      for (const q of alarm.props.metricQueries ?? []) if (q?.metric?.metricName) watched.add(q.metric.metricName);
    }
    const missing = REQUIRED_ALARM_METRICS.filter((m) => !watched.has(m));
    if (missing.length > 0) report(`no alarm with an action watches ${missing.join(", ")} (alarms.enabled and an alarm topic)`);
  },
};

export const policies = [bucketsEncrypted, noPublicBuckets, tlsListeners, noWorldIngress, deploymentTag, queuesEncrypted, alarmsNotify, operationalAlarms, ...leastPrivilegePolicies];

function ofType(args: StackValidationArgs, type: string): PolicyResource[] {
  return args.resources.filter((r) => r.type === type);
}

/**
 * Setting resources of `type` that configure `bucket`: linked through the engine's
 * property dependencies when known, otherwise by the bucket's name.
 */
function settingsFor(args: StackValidationArgs, bucket: PolicyResource, type: string): PolicyResource[] {
  const names = [bucket.props.bucket, bucket.props.id].filter((n) => typeof n === "string" && n !== "");
  return ofType(args, type).filter(
    (s) => (s.propertyDependencies?.bucket ?? []).some((d) => d.urn === bucket.urn) || names.includes(s.props.bucket),
  );
}

function statements(policy: unknown): any[] {
  const doc = typeof policy === "string" ? safeParse(policy) : policy;
  const list = (doc as any)?.Statement;
  return Array.isArray(list) ? list : list ? [list] : [];
}

function grantsEveryone(principal: unknown): boolean {
  if (principal === "*") return true;
  const aws = (principal as any)?.AWS;
  return aws === "*" || (Array.isArray(aws) && aws.includes("*"));
}

function defaultTagsOf(providerProps: Record<string, any> | undefined): Record<string, unknown> | undefined {
  const raw = providerProps?.defaultTags;
  const parsed = typeof raw === "string" ? safeParse(raw) : raw;
  return (parsed as any)?.tags;
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
