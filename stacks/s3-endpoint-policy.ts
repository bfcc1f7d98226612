// The policy of the VPC's S3 gateway endpoint. Every S3 request of the tasks in the region
// goes through it (the endpoint's route is more specific than the NAT's), so it decides
// which buckets can be reached from the VPC at all: the stack's own, with the actions the
// task role has there, and the bucket ECR keeps image layers in. Anything else, such as
// copying PHI to a bucket of somebody else's, fails at the endpoint, whatever IAM allows.
import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";
import { taskPolicyDocument, type TaskPolicyInputs } from "./task-roles";

/** Where ECR serves image layers from; without it image pulls through the endpoint fail (AWS: Amazon ECR interface VPC endpoints). */
export function ecrLayerBucketObjects(partition: string, region: string): string {
  return `arn:${partition}:s3:::prod-${region}-starport-layer-bucket/*`;
}

/** The endpoint's policy: the task role's S3 statements, for any principal, plus ECR's layer bucket. */
export function s3EndpointPolicyDocument(partition: string, task: TaskPolicyInputs) {
  const s3Statements = taskPolicyDocument(task).Statement.filter((s) => s.Action.every((a) => a.startsWith("s3:")));
  return {
    Version: "2012-10-17",
    Statement: [
      // The endpoint's policy grants nothing by itself: IAM and the bucket policies still apply.
      ...s3Statements.map((s) => ({ ...s, Sid: `Stack${s.Sid}`, Principal: "*" })),
      {
        Sid: "EcrImageLayers",
        Effect: "Allow",
        Principal: "*",
        Action: ["s3:GetObject"],
        Resource: ecrLayerBucketObjects(partition, task.region),
      },
    ],
  };
}

export interface S3EndpointPolicyArgs {
  appName: string;
  endpointId: pulumi.Input<string>;
  partition: pulumi.Input<string>;
  region: string;
  dicomBucketArn: pulumi.Input<string>;
  prefix: string;
  certificateObjectArns: pulumi.Input<string>[];
}

export function createS3EndpointPolicy(args: S3EndpointPolicyArgs, opts: pulumi.CustomResourceOptions): aws.ec2.VpcEndpointPolicy {
  return new aws.ec2.VpcEndpointPolicy(
    `${args.appName}-s3-endpoint`,
    {
      vpcEndpointId: args.endpointId,
      policy: pulumi
        .all([args.partition, args.dicomBucketArn, pulumi.all(args.certificateObjectArns)])
        .apply(([partition, dicomBucketArn, certificateObjectArns]) =>
          JSON.stringify(
            s3EndpointPolicyDocument(partition, {
              region: args.region,
              dicomBucketArn,
              prefix: args.prefix,
              certificateObjectArns,
              // Key and exec statements are not S3's; only the S3 statements are taken.
              executeCommand: false,
            }),
          ),
        ),
    },
    opts,
  );
}
