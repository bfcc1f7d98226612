import { describe, expect, it } from "vitest";
import { createNetwork, type NetworkArgs } from "./network";
import { inputs, json, ofType, one, recordComponent } from "./testing/harness";

const args: NetworkArgs = {
  appName: "net",
  region: "eu-central-1",
  accountId: "123456789012",
  cidr: "10.40.0.0/16",
  availabilityZones: ["eu-central-1a", "eu-central-1b"],
  natGatewayPerZone: false,
  flowLogRetentionDays: 30,
};

describe("createNetwork", () => {
  it("spreads public and private subnets over the zones, none handing out public IPs", async () => {
    const { resources } = await recordComponent((opts) => createNetwork(args, opts));
    const subnets = ofType(resources, "aws:ec2/subnet:Subnet").map((s) => ({
      name: s.name,
      az: inputs(s).availabilityZone,
      cidr: inputs(s).cidrBlock,
      publicIp: inputs(s).mapPublicIpOnLaunch,
    }));
    expect(subnets).toEqual([
      { name: "net-private-0", az: "eu-central-1a", cidr: "10.40.0.0/19", publicIp: false },
      { name: "net-private-1", az: "eu-central-1b", cidr: "10.40.32.0/19", publicIp: false },
      { name: "net-public-0", az: "eu-central-1a", cidr: "10.40.128.0/19", publicIp: false },
      { name: "net-public-1", az: "eu-central-1b", cidr: "10.40.160.0/19", publicIp: false },
    ]);
    expect(inputs(one(resources, "aws:ec2/vpc:Vpc")).cidrBlock).toBe("10.40.0.0/16");
  });

  it("routes private subnets out through NAT and public ones through the internet gateway", async () => {
    const { resources } = await recordComponent((opts) => createNetwork(args, opts));
    const route = (name: string) => inputs(one(resources, "aws:ec2/route:Route", name));
    expect(route("net-public-default")).toMatchObject({ destinationCidrBlock: "0.0.0.0/0", gatewayId: "net-igw-id" });
    expect(route("net-private-default-0")).toMatchObject({ destinationCidrBlock: "0.0.0.0/0", natGatewayId: "net-nat-0-id" });
    expect(route("net-private-default-1")).toMatchObject({ natGatewayId: "net-nat-0-id" });
    const associations = ofType(resources, "aws:ec2/routeTableAssociation:RouteTableAssociation").map((a) => [
      inputs(a).subnetId,
      inputs(a).routeTableId,
    ]);
    expect(associations).toEqual([
      ["net-private-0-id", "net-private-rt-0-id"],
      ["net-private-1-id", "net-private-rt-1-id"],
      ["net-public-0-id", "net-public-rt-id"],
      ["net-public-1-id", "net-public-rt-id"],
    ]);
    // The NAT gateway itself must sit where it can reach the internet gateway.
    expect(inputs(one(resources, "aws:ec2/natGateway:NatGateway")).subnetId).toBe("net-public-0-id");
  });

  it("keeps S3 traffic inside the VPC with a gateway endpoint on every private route table", async () => {
    const { resources } = await recordComponent((opts) => createNetwork(args, opts));
    expect(inputs(one(resources, "aws:ec2/vpcEndpoint:VpcEndpoint"))).toMatchObject({
      vpcEndpointType: "Gateway",
      serviceName: "com.amazonaws.eu-central-1.s3",
      routeTableIds: ["net-private-rt-0-id", "net-private-rt-1-id"],
    });
  });

  it("gives each zone its own NAT gateway when asked to", async () => {
    const { resources } = await recordComponent((opts) => createNetwork({ ...args, natGatewayPerZone: true }, opts));
    expect(ofType(resources, "aws:ec2/natGateway:NatGateway").map((n) => inputs(n).subnetId)).toEqual([
      "net-public-0-id",
      "net-public-1-id",
    ]);
    expect(inputs(one(resources, "aws:ec2/route:Route", "net-private-default-1")).natGatewayId).toBe("net-nat-1-id");
  });

  it("logs all VPC traffic to a log group with retention, through a role only flow logs can assume", async () => {
    const { resources, result } = await recordComponent((opts) => createNetwork(args, opts));
    expect(inputs(one(resources, "aws:ec2/flowLog:FlowLog"))).toMatchObject({
      vpcId: "net-vpc-id",
      trafficType: "ALL",
      logDestinationType: "cloud-watch-logs",
      logDestination: "arn:aws:logs:eu-central-1:123456789012:log-group:/net/vpc-flow-logs",
    });
    expect(inputs(one(resources, "aws:cloudwatch/logGroup:LogGroup")).retentionInDays).toBe(30);
    const trust = json(inputs(one(resources, "aws:iam/role:Role")).assumeRolePolicy);
    expect(trust.Statement[0].Principal).toEqual({ Service: "vpc-flow-logs.amazonaws.com" });
    expect(trust.Statement[0].Condition).toEqual({ StringEquals: { "aws:SourceAccount": "123456789012" } });
    expect(result.flowLogGroupName).toBe("/net/vpc-flow-logs");
  });

  it("strips the default security group of all rules", async () => {
    const { resources } = await recordComponent((opts) => createNetwork(args, opts));
    expect(inputs(one(resources, "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"))).toMatchObject({ ingress: [], egress: [] });
  });

  it("refuses a single zone", async () => {
    await expect(recordComponent((opts) => createNetwork({ ...args, availabilityZones: ["eu-central-1a"] }, opts))).rejects.toThrow(
      /2 to 4 availability zones/,
    );
  });
});
