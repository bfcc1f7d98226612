// Trust of a role that an AWS service assumes on the stack's behalf (VPC flow logs, EventBridge
// Scheduler): that service principal only, and only for this account (aws:SourceAccount), so the
// service cannot be made to use the role for another account's resources (the confused deputy).
import type * as pulumi from "@pulumi/pulumi";

export function serviceTrustPolicy(servicePrincipal: string, accountId: pulumi.Input<string>) {
  return {
    Version: "2012-10-17",
    Statement: [
      {
        Effect: "Allow",
        Principal: { Service: servicePrincipal },
        Action: "sts:AssumeRole",
        Condition: { StringEquals: { "aws:SourceAccount": accountId } },
      },
    ],
  };
}
