// IAM for the task. ECS gives a task one role shared by its containers, so "a role per
// container" is not available; instead the task role holds only what the two
// containers need at run time, and everything ECS needs to start the task (image
// pulls, log streams) sits on a separate execution role the containers never see.
import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";

export interface TaskRolesArgs {
  appName: string;
  region: string;
  accountId: pulumi.Input<string>;
  dicomBucketArn: pulumi.Input<string>;
  /** Key prefix the app writes under; "" for the whole bucket. */
  prefix: string;
  kmsKeyArn?: pulumi.Input<string>;
  certificateObjectArns: pulumi.Input<string>[];
  /** The KMS key of an external certificate bucket (certificate.kmsKeyArn), if it has one. */
  certificateKmsKeyArn?: string;
  logGroupArns: pulumi.Input<string>[];
  ecrRepositoryArns: pulumi.Input<string>[];
  /** ECS Exec: the SSM channels its agent opens from inside the task. */
  executeCommand: boolean;
}

export interface TaskRoles {
  taskRole: aws.iam.Role;
  executionRole: aws.iam.Role;
  /** Every policy the roles need before a task can start; the service waits for them. */
  policies: aws.iam.RolePolicy[];
}

type Statement = { Sid: string; Effect: "Allow"; Action: string[]; Resource: string | string[]; Condition?: Record<string, Record<string, string | string[]>> };
type PolicyDocument = { Version: "2012-10-17"; Statement: Statement[] };

export interface TaskPolicyInputs {
  region: string;
  dicomBucketArn: string;
  prefix: string;
  kmsKeyArn?: string;
  certificateObjectArns: string[];
  certificateKmsKeyArn?: string;
  executeCommand: boolean;
}

/** The actions ECS Exec's agent needs on the task role (AWS: "Using ECS Exec", IAM permissions). */
export const EXEC_ACTIONS = ["ssmmessages:CreateControlChannel", "ssmmessages:CreateDataChannel", "ssmmessages:OpenControlChannel", "ssmmessages:OpenDataChannel"];

/** A KMS key used on the task's behalf only by S3 in its region, never directly. */
export function viaS3(region: string) {
  return { StringEquals: { "kms:ViaService": `s3.${region}.amazonaws.com` } };
}

/** What the containers may do at run time. */
export function taskPolicyDocument(p: TaskPolicyInputs): PolicyDocument {
  const objects = p.prefix === "" ? `${p.dicomBucketArn}/*` : `${p.dicomBucketArn}/${p.prefix}/*`;
  const statements: Statement[] = [
    {
      Sid: "WriteDicomObjects",
      Effect: "Allow",
      // GetObject also authorises HEAD, which the app uses to detect duplicates. Objects sent
      // as multipart uploads carry their sha256 as a tag (metadata is fixed before the last byte).
      Action: [
        "s3:PutObject",
        "s3:AbortMultipartUpload",
        "s3:ListMultipartUploadParts",
        "s3:GetObject",
        "s3:PutObjectTagging",
        "s3:GetObjectTagging",
      ],
      Resource: objects,
    },
    {
      // Listing a series (series-listing.ts) and the readiness check (bucket-reachable.ts) under
      // the prefix only, never the whole bucket. S3 then grants no request without a prefix:
      // no HeadBucket, and a HEAD of a missing key answers 403 instead of 404, which the app
      // takes for "new" (on Amazon S3 a conditional write decides that anyway).
      Sid: "ListDicomPrefix",
      Effect: "Allow",
      Action: ["s3:ListBucket"],
      Resource: p.dicomBucketArn,
      ...(p.prefix === "" ? {} : { Condition: { StringLike: { "s3:prefix": [`${p.prefix}/*`] } } }),
    },
  ];
  if (p.kmsKeyArn) {
    statements.push({
      Sid: "UseDicomKey",
      Effect: "Allow",
      // Decrypt is needed to complete multipart uploads and to read objects back.
      Action: ["kms:GenerateDataKey", "kms:Decrypt"],
      Resource: p.kmsKeyArn,
      Condition: viaS3(p.region),
    });
  }
  if (p.certificateObjectArns.length > 0) {
    statements.push({
      Sid: "ReadTlsMaterial",
      Effect: "Allow",
      Action: ["s3:GetObject"],
      Resource: [...p.certificateObjectArns],
    });
    // Without ListBucket, S3 answers a missing certificate with 403 instead of 404, and
    // nginx/render would fail instead of falling back to a self-signed certificate.
    statements.push({
      Sid: "FindTlsMaterial",
      Effect: "Allow",
      Action: ["s3:ListBucket"],
      Resource: [...new Set(p.certificateObjectArns.map((arn) => arn.slice(0, arn.indexOf("/"))))],
    });
  }
  if (p.certificateKmsKeyArn) {
    // An external bucket encrypted with its own key: reading the files decrypts with it, through S3 only.
    // (The stack's own certificate bucket uses SSE-S3.)
    statements.push({ Sid: "DecryptTlsMaterial", Effect: "Allow", Action: ["kms:Decrypt"], Resource: p.certificateKmsKeyArn, Condition: viaS3(p.region) });
  }
  if (p.executeCommand) {
    // The channels are opened for the task itself; IAM offers no narrower resource.
    statements.push({ Sid: "EcsExecChannels", Effect: "Allow", Action: [...EXEC_ACTIONS], Resource: "*" });
  }
  return { Version: "2012-10-17", Statement: statements };
}

export interface ExecutionPolicyInputs {
  logGroupArns: string[];
  ecrRepositoryArns: string[];
}

/** What ECS may do on the task's behalf before the containers run. */
export function executionPolicyDocument(p: ExecutionPolicyInputs): PolicyDocument {
  const statements: Statement[] = [
    {
      Sid: "WriteContainerLogs",
      Effect: "Allow",
      Action: ["logs:CreateLogStream", "logs:PutLogEvents"],
      Resource: p.logGroupArns.map((arn) => `${arn}:log-stream:*`),
    },
  ];
  if (p.ecrRepositoryArns.length > 0) {
    statements.push(
      // Registry authentication cannot be scoped to a repository.
      { Sid: "AuthenticateToEcr", Effect: "Allow", Action: ["ecr:GetAuthorizationToken"], Resource: "*" },
      {
        Sid: "PullImages",
        Effect: "Allow",
        Action: ["ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"],
        Resource: [...p.ecrRepositoryArns],
      },
    );
  }
  return { Version: "2012-10-17", Statement: statements };
}

/** Trust of the task role, as AWS documents it: ECS tasks of this account, in this region. */
export function taskRoleTrustPolicy(region: string, accountId: string) {
  return {
    Version: "2012-10-17",
    Statement: [
      {
        Effect: "Allow",
        Principal: { Service: "ecs-tasks.amazonaws.com" },
        Action: "sts:AssumeRole",
        Condition: {
          ArnLike: { "aws:SourceArn": `arn:aws:ecs:${region}:${accountId}:*` },
          StringEquals: { "aws:SourceAccount": accountId },
        },
      },
    ],
  };
}

/**
 * Trust of the execution role, exactly as AWS documents it: the ECS service principal,
 * no conditions. The agent assumes it before a task exists, so conditions written for
 * the task role (aws:SourceArn) do not belong here.
 */
export function executionRoleTrustPolicy() {
  return {
    Version: "2012-10-17",
    Statement: [{ Effect: "Allow", Principal: { Service: "ecs-tasks.amazonaws.com" }, Action: "sts:AssumeRole" }],
  };
}

/**
 * The task role has a fixed name, so its ARN is known before it exists: the DICOM bucket's
 * policy and the key policy (created before the service) name it, and previews show it.
 */
export function taskRoleName(appName: string): string {
  return `${appName}-task`;
}

export function taskRoleArn(partition: pulumi.Input<string>, accountId: pulumi.Input<string>, appName: string): pulumi.Output<string> {
  return pulumi.interpolate`arn:${partition}:iam::${accountId}:role/${taskRoleName(appName)}`;
}

export function createTaskRoles(args: TaskRolesArgs, opts: pulumi.CustomResourceOptions): TaskRoles {
  const taskRole = new aws.iam.Role(
    `${args.appName}-task`,
    {
      name: taskRoleName(args.appName),
      description: `Run-time permissions of the ${args.appName} containers`,
      assumeRolePolicy: pulumi.output(args.accountId).apply((account) => JSON.stringify(taskRoleTrustPolicy(args.region, account))),
    },
    opts,
  );
  const taskPolicy = new aws.iam.RolePolicy(
    `${args.appName}-task`,
    {
      role: taskRole.name,
      policy: pulumi
        .all([args.dicomBucketArn, args.kmsKeyArn, pulumi.all(args.certificateObjectArns)])
        .apply(([dicomBucketArn, kmsKeyArn, certificateObjectArns]) =>
          JSON.stringify(
            taskPolicyDocument({
              region: args.region,
              dicomBucketArn,
              prefix: args.prefix,
              kmsKeyArn,
              certificateObjectArns,
              certificateKmsKeyArn: args.certificateKmsKeyArn,
              executeCommand: args.executeCommand,
            }),
          ),
        ),
    },
    opts,
  );

  const executionRole = new aws.iam.Role(
    `${args.appName}-execution`,
    { description: `Lets ECS pull images and write logs for ${args.appName}`, assumeRolePolicy: JSON.stringify(executionRoleTrustPolicy()) },
    opts,
  );
  const executionPolicy = new aws.iam.RolePolicy(
    `${args.appName}-execution`,
    {
      role: executionRole.name,
      policy: pulumi
        .all([pulumi.all(args.logGroupArns), pulumi.all(args.ecrRepositoryArns)])
        .apply(([logGroupArns, ecrRepositoryArns]) =>
          JSON.stringify(executionPolicyDocument({ logGroupArns, ecrRepositoryArns })),
        ),
    },
    opts,
  );
  return { taskRole, executionRole, policies: [taskPolicy, executionPolicy] };
}
