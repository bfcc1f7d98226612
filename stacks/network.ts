// VPC for the service: public subnets hold only the NLB; tasks run in private subnets
// whose egress goes through NAT, while S3 traffic takes the gateway endpoint and never
// leaves the VPC. Spelled out with plain resources because the routing is exactly what
// the previous CDK app got wrong, and tests need to see it.
import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";
import { parseCidr, subnetOf, type Cidr } from "./cidr";
import { serviceTrustPolicy } from "./service-trust";

export interface NetworkArgs {
  appName: string;
  region: string;
  accountId: pulumi.Input<string>;
  cidr: string;
  /** Names of the availability zones to use, at least two. */
  availabilityZones: pulumi.Input<string>[];
  /** One NAT gateway per zone (zone-independent egress) instead of a single shared one. */
  natGatewayPerZone: boolean;
  flowLogRetentionDays: number;
}

export interface Network {
  vpcId: pulumi.Output<string>;
  publicSubnetIds: pulumi.Output<string>[];
  privateSubnetIds: pulumi.Output<string>[];
  privateRouteTableIds: pulumi.Output<string>[];
  s3EndpointId: pulumi.Output<string>;
  flowLogGroupName: pulumi.Output<string>;
  /**
   * What must be in place before anything internet-facing goes into the public subnets: the
   * internet gateway (created attached to the VPC: the provider returns only once the
   * attachment is "available") and the public default route with its subnet associations.
   * ELBv2 refuses an internet-facing load balancer in a VPC without an attached gateway.
   */
  internetAccess: pulumi.Resource[];
}

/** Split the range in eight: private subnets take the low blocks, public the upper half. */
const SPLIT_BITS = 3;
const PUBLIC_OFFSET = 4;

export function createNetwork(args: NetworkArgs, opts: pulumi.CustomResourceOptions): Network {
  const { appName } = args;
  if (args.availabilityZones.length < 2 || args.availabilityZones.length > PUBLIC_OFFSET) {
    throw new RangeError(`the network needs 2 to ${PUBLIC_OFFSET} availability zones, got ${args.availabilityZones.length}`);
  }
  const cidr = parseCidr(args.cidr);
  if (typeof cidr === "string") throw new RangeError(cidr);

  const vpc = new aws.ec2.Vpc(
    `${appName}-vpc`,
    { cidrBlock: cidr.text, enableDnsHostnames: true, enableDnsSupport: true, tags: { Name: `${appName}-vpc` } },
    opts,
  );

  // Nothing should ever use the default security group; take its rules away.
  new aws.ec2.DefaultSecurityGroup(`${appName}-default-sg`, { vpcId: vpc.id, ingress: [], egress: [] }, opts);

  const igw = new aws.ec2.InternetGateway(`${appName}-igw`, { vpcId: vpc.id, tags: { Name: `${appName}-igw` } }, opts);
  const publicRoutes = new aws.ec2.RouteTable(`${appName}-public-rt`, { vpcId: vpc.id, tags: { Name: `${appName}-public` } }, opts);
  const publicDefault = new aws.ec2.Route(
    `${appName}-public-default`,
    { routeTableId: publicRoutes.id, destinationCidrBlock: "0.0.0.0/0", gatewayId: igw.id },
    opts,
  );

  const zones = args.availabilityZones.map((zone, index) => ({ zone, index }));
  const publicSubnets = zones.map(({ zone, index }) => subnet(args, cidr, vpc, zone, index, "public", opts));
  const publicAssociations = publicSubnets.map(
    (s, i) => new aws.ec2.RouteTableAssociation(`${appName}-public-${i}`, { subnetId: s.id, routeTableId: publicRoutes.id }, opts),
  );

  const natCount = args.natGatewayPerZone ? zones.length : 1;
  const natGateways = publicSubnets.slice(0, natCount).map((s, i) => {
    const eip = new aws.ec2.Eip(`${appName}-nat-${i}`, { domain: "vpc", tags: { Name: `${appName}-nat-${i}` } }, opts);
    return new aws.ec2.NatGateway(
      `${appName}-nat-${i}`,
      { allocationId: eip.id, subnetId: s.id, connectivityType: "public", tags: { Name: `${appName}-nat-${i}` } },
      { ...opts, dependsOn: [igw] },
    );
  });

  const privateSubnets = zones.map(({ zone, index }) => subnet(args, cidr, vpc, zone, index, "private", opts));
  const privateRouteTables = privateSubnets.map((s, i) => {
    const table = new aws.ec2.RouteTable(
      `${appName}-private-rt-${i}`,
      { vpcId: vpc.id, tags: { Name: `${appName}-private-${i}` } },
      opts,
    );
    new aws.ec2.Route(
      `${appName}-private-default-${i}`,
      { routeTableId: table.id, destinationCidrBlock: "0.0.0.0/0", natGatewayId: natGateways[i % natCount].id },
      opts,
    );
    new aws.ec2.RouteTableAssociation(`${appName}-private-${i}`, { subnetId: s.id, routeTableId: table.id }, opts);
    return table;
  });

  const s3Endpoint = new aws.ec2.VpcEndpoint(
    `${appName}-s3-endpoint`,
    {
      vpcId: vpc.id,
      serviceName: `com.amazonaws.${args.region}.s3`,
      vpcEndpointType: "Gateway",
      routeTableIds: privateRouteTables.map((t) => t.id),
      tags: { Name: `${appName}-s3` },
    },
    opts,
  );

  const flowLogGroup = new aws.cloudwatch.LogGroup(
    `${appName}-flow-logs`,
    { name: `/${appName}/vpc-flow-logs`, retentionInDays: args.flowLogRetentionDays },
    opts,
  );
  const flowLogRole = new aws.iam.Role(
    `${appName}-flow-logs`,
    {
      description: `VPC flow logs of ${appName}`,
      assumeRolePolicy: pulumi.jsonStringify(serviceTrustPolicy("vpc-flow-logs.amazonaws.com", args.accountId)),
    },
    opts,
  );
  new aws.iam.RolePolicy(
    `${appName}-flow-logs`,
    {
      role: flowLogRole.name,
      policy: pulumi.jsonStringify({
        Version: "2012-10-17",
        Statement: [
          {
            Effect: "Allow",
            Action: ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
            Resource: [flowLogGroup.arn, pulumi.interpolate`${flowLogGroup.arn}:*`],
          },
        ],
      }),
    },
    opts,
  );
  new aws.ec2.FlowLog(
    `${appName}-vpc`,
    {
      vpcId: vpc.id,
      trafficType: "ALL",
      logDestinationType: "cloud-watch-logs",
      logDestination: flowLogGroup.arn,
      iamRoleArn: flowLogRole.arn,
      maxAggregationInterval: 600,
      tags: { Name: `${appName}-vpc` },
    },
    opts,
  );

  return {
    vpcId: vpc.id,
    publicSubnetIds: publicSubnets.map((s) => s.id),
    privateSubnetIds: privateSubnets.map((s) => s.id),
    privateRouteTableIds: privateRouteTables.map((t) => t.id),
    s3EndpointId: s3Endpoint.id,
    flowLogGroupName: flowLogGroup.name,
    internetAccess: [igw, publicDefault, ...publicAssociations],
  };
}

function subnet(
  args: NetworkArgs,
  cidr: Cidr,
  vpc: aws.ec2.Vpc,
  zone: pulumi.Input<string>,
  index: number,
  tier: "public" | "private",
  opts: pulumi.CustomResourceOptions,
): aws.ec2.Subnet {
  const block = tier === "public" ? PUBLIC_OFFSET + index : index;
  return new aws.ec2.Subnet(
    `${args.appName}-${tier}-${index}`,
    {
      vpcId: vpc.id,
      availabilityZone: zone,
      cidrBlock: subnetOf(cidr, SPLIT_BITS, block),
      // Nothing gets a public address: the NLB brings its own, tasks egress through NAT.
      mapPublicIpOnLaunch: false,
      tags: { Name: `${args.appName}-${tier}-${index}`, tier },
    },
    opts,
  );
}
