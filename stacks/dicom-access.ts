// Who may read the PHI. IAM alone would let anyone in the account with s3:GetObject (or
// kms:Decrypt through the account's IAM delegation) read every instance; here the bucket
// policy and the key policy name the few principals that may, and nobody else can, whatever
// their IAM policies say.
//
// Principals are matched on aws:PrincipalArn, not named in Principal: a role's session has
// the role's ARN there, the condition survives the role being recreated (a Principal entry
// would turn into the old role's unique id), and KMS does not require the role to exist
// before the key policy is written.

/** Everything that reads or deletes an object, or one of its versions, tags, ACL or attributes. */
export const OBJECT_READ_DELETE_ACTIONS = ["s3:GetObject*", "s3:DeleteObject*"];

/**
 * What the deploying identity needs to keep administering the key (and what Pulumi calls on
 * it), but no use of the key: no Encrypt/Decrypt/GenerateDataKey/ReEncrypt, no CreateGrant.
 */
export const KEY_ADMIN_ACTIONS = [
  "kms:Describe*",
  "kms:Get*",
  "kms:List*",
  "kms:PutKeyPolicy",
  "kms:EnableKey",
  "kms:DisableKey",
  "kms:EnableKeyRotation",
  "kms:DisableKeyRotation",
  "kms:RotateKeyOnDemand",
  "kms:UpdateKeyDescription",
  "kms:CreateAlias",
  "kms:UpdateAlias",
  "kms:DeleteAlias",
  "kms:TagResource",
  "kms:UntagResource",
  "kms:RevokeGrant",
  "kms:ScheduleKeyDeletion",
  "kms:CancelKeyDeletion",
];

/**
 * Reading the key's metadata and policy: what `pulumi preview --refresh` and the drift check do
 * with a read-only role. It neither uses nor changes the key, so the account's IAM decides.
 */
export const KEY_READ_ACTIONS = ["kms:DescribeKey", "kms:GetKeyPolicy", "kms:GetKeyRotationStatus", "kms:ListResourceTags", "kms:ListKeyPolicies", "kms:ListKeyRotations"];

/** What S3 asks KMS for on the task's behalf: a data key to write (bucket key), decryption to read back and complete uploads. */
export const TASK_KEY_ACTIONS = ["kms:GenerateDataKey", "kms:Decrypt"];

/** IAM role ARN, without the session part a caller's ARN may carry. */
const ROLE_ARN = /^arn:aws[a-z-]*:iam::\d{12}:(role|user)\/.+$/;

/** The deploying identity's one look at DICOM objects: the smoke test's HEAD and tags of the samples it stored. */
export interface DeployAccess {
  roleArn: string;
  /** Keys of the smoke samples (stacks/smoke.ts), where the deployed service stores them. */
  smokeObjectKeys: string[];
}

/**
 * The DICOM bucket's statements: reading and deleting objects is denied to every principal
 * but the task role and the configured data readers; the deploying identity may read only
 * the smoke samples' objects (after a deployment, stacks/smoke.ts checks their size and
 * sha256) and delete nothing. Bucket settings (policy, lifecycle, versioning...) are
 * untouched, so the deploying identity keeps managing the bucket; writing stays a matter of
 * IAM (only the task role has s3:PutObject there).
 */
export function objectAccessStatements(bucketArn: string, taskRoleArn: string, dataReaders: string[], deploy: DeployAccess) {
  return [
    {
      Sid: "DenyObjectReadDeleteToOthers",
      Effect: "Deny",
      Principal: "*",
      Action: [...OBJECT_READ_DELETE_ACTIONS],
      Resource: `${bucketArn}/*`,
      // A request without aws:PrincipalArn (an AWS service principal) is denied too.
      Condition: { ArnNotLike: { "aws:PrincipalArn": [taskRoleArn, ...dataReaders, deploy.roleArn] } },
    },
    {
      Sid: "DeployRoleReadsSmokeSamplesOnly",
      Effect: "Deny",
      Principal: "*",
      Action: ["s3:GetObject*"],
      NotResource: deploy.smokeObjectKeys.map((key) => `${bucketArn}/${key}`),
      Condition: { ArnEquals: { "aws:PrincipalArn": deploy.roleArn } },
    },
    {
      Sid: "DeployRoleDeletesNoObject",
      Effect: "Deny",
      Principal: "*",
      Action: ["s3:DeleteObject*"],
      Resource: `${bucketArn}/*`,
      Condition: { ArnEquals: { "aws:PrincipalArn": deploy.roleArn } },
    },
  ];
}

export interface KeyPolicyInputs {
  partition: string;
  accountId: string;
  region: string;
  /** IAM role (or user) ARN of the identity that runs `pulumi up`. */
  deployRoleArn: string;
  taskRoleArn: string;
  dataReaders: string[];
}

/**
 * The DICOM key's own policy, with no "the account's IAM decides" statement: the deploying
 * identity administers the key; the task role and the data readers may use it, and only
 * through S3 in the stack's region (kms:ViaService), never by calling KMS directly.
 */
export function dicomKeyPolicy(p: KeyPolicyInputs) {
  if (!ROLE_ARN.test(p.deployRoleArn)) {
    throw new Error(`the key administrator must be an IAM role or user ARN, got ${p.deployRoleArn}`);
  }
  const account = { AWS: `arn:${p.partition}:iam::${p.accountId}:root` };
  const viaS3 = { "kms:ViaService": `s3.${p.region}.amazonaws.com`, "kms:CallerAccount": p.accountId };
  const statements: Record<string, unknown>[] = [
    {
      Sid: "DeployIdentityAdministers",
      Effect: "Allow",
      Principal: account,
      Action: [...KEY_ADMIN_ACTIONS],
      Resource: "*",
      Condition: { ArnEquals: { "aws:PrincipalArn": p.deployRoleArn } },
    },
    { Sid: "AccountReadsKeyMetadata", Effect: "Allow", Principal: account, Action: [...KEY_READ_ACTIONS], Resource: "*" },
    {
      Sid: "TaskRoleUsesThroughS3",
      Effect: "Allow",
      Principal: account,
      Action: [...TASK_KEY_ACTIONS],
      Resource: "*",
      Condition: { ArnEquals: { "aws:PrincipalArn": p.taskRoleArn }, StringEquals: viaS3 },
    },
  ];
  if (p.dataReaders.length > 0) {
    statements.push({
      Sid: "DataReadersDecryptThroughS3",
      Effect: "Allow",
      Principal: account,
      Action: ["kms:Decrypt"],
      Resource: "*",
      Condition: { ArnLike: { "aws:PrincipalArn": [...p.dataReaders] }, StringEquals: viaS3 },
    });
  }
  return { Version: "2012-10-17", Statement: statements };
}

/** The role a caller's ARN belongs to: an assumed-role session's ARN names its role (aws:PrincipalArn is that role). */
export function roleOfCaller(callerArn: string): string {
  const m = /^arn:(aws[a-z-]*):sts::(\d{12}):assumed-role\/([^/]+)\/.+$/.exec(callerArn);
  return m ? `arn:${m[1]}:iam::${m[2]}:role/${m[3]}` : callerArn;
}
