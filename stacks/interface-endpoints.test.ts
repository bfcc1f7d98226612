import { describe, expect, it } from "vitest";
import { createInterfaceEndpoints } from "./interface-endpoints";
import { inputs, ofType, one, recordComponent, recordWith } from "./testing/harness";

describe("createInterfaceEndpoints", () => {
  it("puts ECR api, ECR dkr and Logs endpoints with private DNS in the given subnets, reachable on 443 from the tasks only", async () => {
    const { resources } = await recordComponent((opts) =>
      createInterfaceEndpoints({ appName: "ie", region: "eu-central-1", vpcId: "vpc-1", subnetIds: ["private-a", "private-b"], clientSecurityGroupId: "sg-task" }, opts),
    );
    const endpoints = ofType(resources, "aws:ec2/vpcEndpoint:VpcEndpoint").map((r) => inputs(r));
    expect(endpoints.map((e) => e.serviceName).sort()).toEqual(["com.amazonaws.eu-central-1.ecr.api", "com.amazonaws.eu-central-1.ecr.dkr", "com.amazonaws.eu-central-1.logs"]);
    for (const e of endpoints) {
      expect(e).toMatchObject({ vpcEndpointType: "Interface", privateDnsEnabled: true, subnetIds: ["private-a", "private-b"], securityGroupIds: ["ie-endpoints-id"] });
    }
    expect(ofType(resources, "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule").map((r) => inputs(r))).toEqual([
      expect.objectContaining({ securityGroupId: "ie-endpoints-id", referencedSecurityGroupId: "sg-task", ipProtocol: "tcp", fromPort: 443, toPort: 443 }),
    ]);
    expect(inputs(one(resources, "aws:ec2/securityGroup:SecurityGroup")).ingress ?? []).toEqual([]);
  });
});

describe("network.interfaceEndpoints in the stack", () => {
  it("makes the endpoints by default, for the tasks' security group in the private subnets, and none when turned off", async () => {
    const on = (await recordWith({})).resources;
    const interfaces = ofType(on, "aws:ec2/vpcEndpoint:VpcEndpoint").filter((r) => inputs(r).vpcEndpointType === "Interface");
    expect(interfaces).toHaveLength(3);
    const service = inputs(one(on, "aws:ecs/service:Service"));
    for (const e of interfaces) expect(inputs(e).subnetIds).toEqual(service.networkConfiguration.subnets);
    expect(inputs(one(on, "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "stowrs-test-endpoints-from-tasks")).referencedSecurityGroupId).toBe(
      service.networkConfiguration.securityGroups[0],
    );
    const off = (await recordWith({ network: { interfaceEndpoints: false } })).resources;
    expect(ofType(off, "aws:ec2/vpcEndpoint:VpcEndpoint").map((r) => inputs(r).vpcEndpointType)).toEqual(["Gateway"]);
  });
});
