// Guard rails for who may reach the PHI, as policy-pack rules (registered in rules.ts).
// They read the documents the program writes (bucket policies, role policies, key policies,
// the S3 endpoint's policy, task definitions) and evaluate them with iam-evaluate.ts. A value
// the engine does not know yet during a first preview (a bucket's name) is skipped, not failed:
// it is checked again in the preview that follows.
import type { PolicyResource, ResourceValidationPolicy, StackValidationArgs, StackValidationPolicy } from "@pulumi/policy";
import { allows, denyingStatements, statementsOf, wildcardMatch, type IamRequest } from "./iam-evaluate";

const T = {
  bucketPolicy: "aws:s3/bucketPolicy:BucketPolicy",
  rolePolicy: "aws:iam/rolePolicy:RolePolicy",
  role: "aws:iam/role:Role",
  kmsKey: "aws:kms/key:Key",
  encryption: "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
  vpcEndpoint: "aws:ec2/vpcEndpoint:VpcEndpoint",
  vpcEndpointPolicy: "aws:ec2/vpcEndpointPolicy:VpcEndpointPolicy",
  taskDefinition: "aws:ecs/taskDefinition:TaskDefinition",
} as const;

/** What deploying and operating the bucket needs; a policy that denies these to the deploy role locks it out. */
export const BUCKET_MANAGEMENT_ACTIONS = [
  "s3:GetBucketPolicy",
  "s3:PutBucketPolicy",
  "s3:DeleteBucketPolicy",
  "s3:PutLifecycleConfiguration",
  "s3:PutBucketVersioning",
  "s3:PutEncryptionConfiguration",
  "s3:PutBucketPublicAccessBlock",
  "s3:PutBucketLogging",
];
/** What the task does with a DICOM object. */
const TASK_OBJECT_ACTIONS = ["s3:PutObject", "s3:GetObject", "s3:GetObjectTagging", "s3:PutObjectTagging", "s3:AbortMultipartUpload"];
/** Key metadata reads: no use of the key, no change to it. */
const KEY_METADATA_READS = ["kms:describekey", "kms:getkeypolicy", "kms:getkeyrotationstatus", "kms:listresourcetags", "kms:listkeypolicies", "kms:listkeyrotations"];
const KEY_USE_ACTIONS = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:GenerateDataKeyWithoutPlaintext", "kms:ReEncryptFrom", "kms:ReEncryptTo"];

/** A bucket a role policy lets someone write objects into: the PHI buckets, with the key prefix written under. */
interface WrittenBucket {
  bucketArn: string;
  prefix: string;
  rolePolicy: PolicyResource;
  /** The writing role's name (RolePolicy.role), to find its ARN among the deny's exemptions. */
  roleName: string;
}

function writtenBuckets(args: StackValidationArgs): WrittenBucket[] {
  const found: WrittenBucket[] = [];
  for (const rp of args.resources.filter((r) => r.type === T.rolePolicy)) {
    for (const s of statementsOf(rp.props.policy)) {
      if (s.Effect !== "Allow" || ![s.Action].flat().some((a) => typeof a === "string" && wildcardMatch(a, "s3:PutObject", true))) continue;
      for (const resource of [s.Resource].flat()) {
        const m = typeof resource === "string" ? /^(arn:[^:]+:s3:::[^/]+)\/(.*)\*$/.exec(resource) : null;
        if (m) found.push({ bucketArn: m[1], prefix: m[2], rolePolicy: rp, roleName: String(rp.props.role ?? "") });
      }
    }
  }
  return found;
}

/** Exempt principal ARNs of the bucket policy's object-read deny. */
function exemptions(policy: unknown): string[] {
  return statementsOf(policy)
    .filter((s) => s.Effect === "Deny")
    .flatMap((s) => Object.values(s.Condition?.ArnNotLike ?? {}).flatMap((v) => [v].flat().map(String)));
}

export const phiObjectsDenied: StackValidationPolicy = {
  name: "s3-phi-objects-named-readers-only",
  description:
    "A bucket the task writes into denies reading and deleting objects to everyone but the writing role and named readers (aws:PrincipalArn), without locking the deploy role out of managing the bucket.",
  enforcementLevel: "mandatory",
  validateStack: (args, report) => {
    for (const written of writtenBuckets(args)) {
      const policies = args.resources.filter((r) => r.type === T.bucketPolicy && statementsOf(r.props.policy).some((s) => [s.Resource].flat().some((x) => typeof x === "string" && x.startsWith(written.bucketArn))));
      if (policies.length === 0) {
        report(`${written.bucketArn} receives objects from ${written.roleName || "a role"} but has no bucket policy restricting who reads them`, written.rolePolicy.urn);
        continue;
      }
      for (const bp of policies) {
        const policy = bp.props.policy;
        const object = `${written.bucketArn}/${written.prefix}1.2.3/1.2.3.4/1.2.3.4.5.dcm`;
        const account = /:iam::(\d{12}):/.exec(exemptions(policy)[0] ?? "")?.[1] ?? "123456789012";
        const tls = { "aws:SecureTransport": "true" };
        const ask = (principalArn: string | undefined, action: string, resource = object): IamRequest => ({ principalArn, action, resource, context: tls });

        const stranger = `arn:aws:iam::${account}:role/not-a-named-reader`;
        for (const action of ["s3:GetObject", "s3:GetObjectVersion", "s3:DeleteObject", "s3:DeleteObjectVersion"]) {
          if (denyingStatements(policy, ask(stranger, action)).length === 0) report(`${bp.name} lets any principal with IAM rights ${action} on ${written.bucketArn}`, bp.urn);
          if (denyingStatements(policy, ask(undefined, action)).length === 0) report(`${bp.name} lets AWS service principals ${action} on ${written.bucketArn}`, bp.urn);
        }
        const writer = exemptions(policy).find((arn) => written.roleName !== "" && arn.endsWith(`:role/${written.roleName}`));
        if (!writer) {
          report(`${bp.name} does not name the writing role ${written.roleName} among the principals allowed to read its objects`, bp.urn);
        } else {
          for (const action of TASK_OBJECT_ACTIONS) {
            const refused = denyingStatements(policy, ask(writer, action));
            if (refused.length > 0) report(`${bp.name} locks the task role out of ${action} (${refused.join(", ")})`, bp.urn);
          }
        }
        // Whoever deploys must keep managing the bucket, whatever its ARN.
        const deployer = `arn:aws:iam::${account}:role/any-deploy-role`;
        for (const action of BUCKET_MANAGEMENT_ACTIONS) {
          const refused = denyingStatements(policy, ask(deployer, action, written.bucketArn));
          if (refused.length > 0) report(`${bp.name} locks the deploying identity out of ${action} (${refused.join(", ")})`, bp.urn);
        }
      }
    }
  },
};

export const listUnderPrefix: ResourceValidationPolicy = {
  name: "s3-list-under-prefix",
  description: "A role that writes objects under a key prefix may list that bucket only under the prefix (s3:prefix condition).",
  enforcementLevel: "mandatory",
  validateResource: (args, report) => {
    if (args.type !== T.rolePolicy) return;
    const statements = statementsOf(args.props.policy);
    for (const s of statements) {
      if (s.Effect !== "Allow" || ![s.Action].flat().some((a) => typeof a === "string" && wildcardMatch(a, "s3:PutObject", true))) continue;
      for (const resource of [s.Resource].flat()) {
        const m = typeof resource === "string" ? /^(arn:[^:]+:s3:::[^/]+)\/(.+\/)\*$/.exec(resource) : null;
        if (!m) continue; // writes to the whole bucket: listing it all is within the job
        const [, bucketArn, prefix] = m;
        const outside = { principalArn: "arn:aws:iam::123456789012:role/any", action: "s3:ListBucket", resource: bucketArn };
        for (const [label, context] of [
          ["the whole bucket", { "s3:prefix": "" }],
          ["another prefix", { "s3:prefix": "other/" }],
          ["a request without a prefix", {}],
        ] as const) {
          if (allows(args.props.policy, { ...outside, context })) report(`lets the role list ${label} of ${bucketArn}, not only ${prefix}`);
        }
        if (!allows(args.props.policy, { ...outside, context: { "s3:prefix": `${prefix}1.2.3/1.2.3.4/` } })) {
          report(`does not let the role list ${bucketArn} under ${prefix}, where it writes`);
        }
      }
    }
  },
};

export const keyPolicyExplicit: ResourceValidationPolicy = {
  name: "kms-key-policy-explicit",
  description:
    "Every KMS key has a policy of its own: no statement hands the key (beyond reading its metadata) to the account's IAM or to everyone, and whoever may use it for data does so only through a named service (kms:ViaService).",
  enforcementLevel: "mandatory",
  validateResource: (args, report) => {
    if (args.type !== T.kmsKey) return;
    if (args.props.policy === undefined) {
      report("has no key policy of its own: AWS's default lets every principal of the account with IAM rights use the key");
      return;
    }
    for (const s of statementsOf(args.props.policy)) {
      if (s.Effect !== "Allow") continue;
      const actions = [s.Action].flat().filter((a): a is string => typeof a === "string");
      const label = s.Sid ?? JSON.stringify(actions);
      if (actions.some((a) => a === "*" || a.toLowerCase() === "kms:*")) report(`${label} grants every KMS action`);
      if (s.Principal === "*" || [(s.Principal as { AWS?: unknown })?.AWS].flat().includes("*")) report(`${label} grants to everyone`);
      // Reading metadata is left to the account's IAM (previews and refreshes with a read-only role); anything else names its principals.
      const readsOnly = actions.length > 0 && actions.every((a) => KEY_METADATA_READS.includes(a.toLowerCase()));
      if (!readsOnly && (!s.Condition || !Object.values(s.Condition).some((c) => Object.keys(c).some((k) => k.toLowerCase() === "aws:principalarn")))) {
        report(`${label} names no principal (aws:PrincipalArn): the account's IAM policies would decide`);
      }
      const uses = actions.some((a) => KEY_USE_ACTIONS.some((k) => wildcardMatch(a, k, true)));
      const viaService = Object.values(s.Condition ?? {}).some((c) => Object.keys(c).some((k) => k.toLowerCase() === "kms:viaservice"));
      if (uses && !viaService) report(`${label} lets its principals use the key directly, not only through a service (kms:ViaService)`);
    }
  },
};

export const phiKeyNotShared: StackValidationPolicy = {
  name: "kms-phi-key-not-shared",
  description: "The KMS key of a bucket the task writes PHI into encrypts no other bucket (the certificate bucket uses SSE-S3).",
  enforcementLevel: "mandatory",
  validateStack: (args, report) => {
    const phiBuckets = new Set(writtenBuckets(args).map((w) => w.bucketArn.slice(w.bucketArn.lastIndexOf(":") + 1)));
    const keyOf = (r: PolicyResource) => r.props.rules?.[0]?.applyServerSideEncryptionByDefault?.kmsMasterKeyId;
    const configs = args.resources.filter((r) => r.type === T.encryption && typeof keyOf(r) === "string");
    for (const phi of configs.filter((r) => phiBuckets.has(String(r.props.bucket)))) {
      for (const other of configs.filter((r) => r !== phi && keyOf(r) === keyOf(phi))) {
        report(`bucket ${other.props.bucket} shares the PHI key of ${phi.props.bucket}`, other.urn);
      }
    }
  },
};

export const s3EndpointPolicy: StackValidationPolicy = {
  name: "s3-endpoint-policy",
  description: "The S3 gateway endpoint has a policy that names its buckets (the stack's and ECR's image layers), never every bucket.",
  enforcementLevel: "mandatory",
  validateStack: (args, report) => {
    for (const endpoint of args.resources.filter((r) => r.type === T.vpcEndpoint && r.props.vpcEndpointType === "Gateway" && /\.s3$/.test(String(r.props.serviceName)))) {
      const attached = args.resources.filter(
        (r) => r.type === T.vpcEndpointPolicy && (r.props.vpcEndpointId === endpoint.props.id || (r.propertyDependencies?.vpcEndpointId ?? []).some((d) => d.urn === endpoint.urn)),
      );
      const policies = [...attached.map((r) => r.props.policy), ...(endpoint.props.policy !== undefined ? [endpoint.props.policy] : [])];
      if (policies.length === 0) {
        report(`${endpoint.name} has no endpoint policy: anything in the VPC may reach any bucket through it`, endpoint.urn);
        continue;
      }
      for (const policy of policies) {
        const statements = statementsOf(policy);
        const anyBucket = statements.some((s) => s.Effect === "Allow" && [s.Resource].flat().some((x) => x === "*" || x === "arn:aws:s3:::*" || x === "arn:aws:s3:::*/*"));
        if (anyBucket) report(`${endpoint.name}'s policy allows every bucket`, endpoint.urn);
        const layers = statements.some((s) => s.Effect === "Allow" && [s.Resource].flat().some((x) => typeof x === "string" && /:s3:::prod-[a-z0-9-]+-starport-layer-bucket\/\*$/.test(x)));
        if (!layers) report(`${endpoint.name}'s policy leaves out ECR's layer bucket (prod-<region>-starport-layer-bucket): image pulls would fail`, endpoint.urn);
      }
    }
  },
};

export const readOnlyRootFilesystem: ResourceValidationPolicy = {
  name: "ecs-read-only-root",
  description: "Every container of a task definition runs with a read-only root file system (writable paths are volumes).",
  enforcementLevel: "mandatory",
  validateResource: (args, report) => {
    if (args.type !== T.taskDefinition) return;
    let containers: { name?: string; readonlyRootFilesystem?: boolean }[];
    try {
      const raw = args.props.containerDefinitions;
      containers = typeof raw === "string" ? JSON.parse(raw) : raw;
    } catch {
      return;
    }
    if (!Array.isArray(containers)) return;
    for (const c of containers) if (c.readonlyRootFilesystem !== true) report(`container ${c.name} has a writable root file system`);
  },
};

export const leastPrivilegePolicies = [phiObjectsDenied, listUnderPrefix, keyPolicyExplicit, phiKeyNotShared, s3EndpointPolicy, readOnlyRootFilesystem];
