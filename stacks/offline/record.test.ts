// The record's dependsOn is what the program passed, not what its inputs imply: the plan
// shows it so a reviewer can see the ordering a first `pulumi up` relies on.
import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";
import { describe, expect, it } from "vitest";
import { configMap, one, REGION } from "../testing/harness";
import { recordStack, urnName } from "./record";

function record(program: (opts: pulumi.CustomResourceOptions) => void) {
  return recordStack("test", configMap(), () => {
    const provider = new aws.Provider("rec-aws", { region: REGION });
    program({ provider });
    return {};
  });
}

describe("recordStack: explicit dependsOn", () => {
  it("records the resources named in dependsOn, and not those the inputs come from", async () => {
    const { resources } = await record((opts) => {
      const vpc = new aws.ec2.Vpc("rec-vpc", { cidrBlock: "10.0.0.0/16" }, opts);
      const igw = new aws.ec2.InternetGateway("rec-igw", { vpcId: vpc.id }, opts);
      new aws.ec2.Subnet("rec-subnet", { vpcId: vpc.id, cidrBlock: "10.0.0.0/24" }, { ...opts, dependsOn: [igw] });
    });
    const subnet = one(resources, "aws:ec2/subnet:Subnet");
    expect(subnet.dependsOn.map(urnName)).toEqual(["rec-igw"]);
    // The VPC is a dependency (through vpcId) but was not asked for explicitly.
    expect(subnet.dependencies).toContain(one(resources, "aws:ec2/vpc:Vpc").urn);
    expect(one(resources, "aws:ec2/internetGateway:InternetGateway").dependsOn).toEqual([]);
  });

  it("resolves a single resource and outputs of resources as the SDK accepts them", async () => {
    const { resources } = await record((opts) => {
      const a = new aws.s3.Bucket("rec-a", {}, opts);
      const b = new aws.s3.Bucket("rec-b", {}, opts);
      new aws.s3.Bucket("rec-one", {}, { ...opts, dependsOn: a });
      new aws.s3.Bucket("rec-output", {}, { ...opts, dependsOn: pulumi.output([b, a]) as unknown as pulumi.Input<pulumi.Resource[]> });
    });
    expect(one(resources, "aws:s3/bucket:Bucket", "rec-one").dependsOn.map(urnName)).toEqual(["rec-a"]);
    expect(one(resources, "aws:s3/bucket:Bucket", "rec-output").dependsOn.map(urnName)).toEqual(["rec-a", "rec-b"]);
  });

  it("lists the data sources the program reads", async () => {
    const recorded = await recordStack("test", configMap(), () => {
      const provider = new aws.Provider("rec-aws", { region: REGION });
      return { account: aws.getCallerIdentityOutput({}, { provider }).accountId };
    });
    expect(recorded.invokes).toEqual(["aws:index/getCallerIdentity:getCallerIdentity"]);
  });
});
