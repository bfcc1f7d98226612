// Interface endpoints for what every task start and every log line needs: ECR's API and
// registry (image manifests; layers come from S3 through the gateway endpoint) and CloudWatch
// Logs. With them, image pulls and logs stay in the VPC instead of crossing the NAT gateways
// (cheaper per GiB, and no internet path for them at all). network.interfaceEndpoints.
import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";

/** Service name suffixes (com.amazonaws.<region>.<suffix>). */
export const INTERFACE_ENDPOINT_SERVICES = ["ecr.api", "ecr.dkr", "logs"] as const;

export interface InterfaceEndpointsArgs {
  appName: string;
  region: string;
  vpcId: pulumi.Input<string>;
  /** One endpoint network interface per subnet: the tasks' private subnets. */
  subnetIds: pulumi.Input<string>[];
  /** The tasks' security group: the only source allowed to reach the endpoints. */
  clientSecurityGroupId: pulumi.Input<string>;
}

export interface InterfaceEndpoints {
  securityGroupId: pulumi.Output<string>;
  endpointIds: pulumi.Output<string>[];
}

export function createInterfaceEndpoints(args: InterfaceEndpointsArgs, opts: pulumi.CustomResourceOptions): InterfaceEndpoints {
  const { appName } = args;
  const securityGroup = new aws.ec2.SecurityGroup(
    `${appName}-endpoints`,
    { vpcId: args.vpcId, description: `${appName} interface endpoints: HTTPS from the tasks only`, tags: { Name: `${appName}-endpoints` } },
    opts,
  );
  new aws.vpc.SecurityGroupIngressRule(
    `${appName}-endpoints-from-tasks`,
    {
      securityGroupId: securityGroup.id,
      referencedSecurityGroupId: args.clientSecurityGroupId,
      ipProtocol: "tcp",
      fromPort: 443,
      toPort: 443,
      description: "HTTPS from the tasks",
    },
    opts,
  );
  const endpointIds = INTERFACE_ENDPOINT_SERVICES.map(
    (service) =>
      new aws.ec2.VpcEndpoint(
        `${appName}-${service.replace(".", "-")}-endpoint`,
        {
          vpcId: args.vpcId,
          serviceName: `com.amazonaws.${args.region}.${service}`,
          vpcEndpointType: "Interface",
          // The tasks keep using the services' usual names; the VPC's DNS answers with the endpoints.
          privateDnsEnabled: true,
          subnetIds: args.subnetIds,
          securityGroupIds: [securityGroup.id],
          tags: { Name: `${appName}-${service}` },
        },
        opts,
      ).id,
  );
  return { securityGroupId: securityGroup.id, endpointIds };
}
