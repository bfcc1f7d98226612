import * as path from "node:path";
import * as aws from "@pulumi/aws";
import { describe, expect, it } from "vitest";
import { main as plan } from "./plan";
import { evaluatePolicies } from "./policy/evaluate";
import { policies } from "./policy/rules";
import { recordStack } from "./offline/record";
import { readStackFile } from "./offline/stack-file";
import { createLoadBalancer, listenerIdleTimeoutSeconds, TLS_POLICY, UPSTREAM_TIMEOUT_SECONDS, type LoadBalancerArgs } from "./load-balancer";
import { urnName } from "./offline/record";
import { inputs, ofType, one, recordComponent } from "./testing/harness";

const base: LoadBalancerArgs = {
  appName: "lb",
  vpcId: "vpc-1",
  publicSubnetIds: ["subnet-a", "subnet-b"],
  allowedPeers: ["203.0.113.0/24", "198.51.100.7/32"],
  certificateMode: "FROMS3",
  healthCheck: { port: 8081, path: "/live" },
  deregistrationDelaySeconds: 45,
  deletionProtection: false,
  internetAccess: [],
};

describe("createLoadBalancer", () => {
  it("creates an internet-facing NLB with its security group from the start", async () => {
    const { resources } = await recordComponent((opts) => createLoadBalancer(base, opts));
    expect(inputs(one(resources, "aws:lb/loadBalancer:LoadBalancer"))).toMatchObject({
      loadBalancerType: "network",
      internal: false,
      subnets: ["subnet-a", "subnet-b"],
      securityGroups: ["lb-nlb-id"],
    });
  });

  it("creates the NLB only after the internet access it is given (gateway attached, public routes)", async () => {
    const { resources } = await recordComponent((opts) => {
      const igw = new aws.ec2.InternetGateway("lb-igw", { vpcId: "vpc-1" }, opts);
      const route = new aws.ec2.Route("lb-public-default", { routeTableId: "rtb-1", destinationCidrBlock: "0.0.0.0/0", gatewayId: igw.id }, opts);
      return createLoadBalancer({ ...base, internetAccess: [igw, route] }, opts);
    });
    const nlb = one(resources, "aws:lb/loadBalancer:LoadBalancer");
    expect(nlb.dependsOn.map(urnName)).toEqual(["lb-igw", "lb-public-default"]);
  });

  it("admits exactly the allowed peers, one rule each, on 443 only", async () => {
    const { resources } = await recordComponent((opts) => createLoadBalancer(base, opts));
    const rules = ofType(resources, "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule").map((r) => inputs(r));
    expect(rules.map((r) => [r.securityGroupId, r.cidrIpv4, r.ipProtocol, r.fromPort, r.toPort])).toEqual([
      ["lb-nlb-id", "198.51.100.7/32", "tcp", 443, 443],
      ["lb-nlb-id", "203.0.113.0/24", "tcp", 443, 443],
    ]);
    expect(inputs(one(resources, "aws:ec2/securityGroup:SecurityGroup")).ingress ?? []).toEqual([]);
  });

  it("names peer rules after the CIDR so editing the list only touches what changed", async () => {
    const { resources } = await recordComponent((opts) => createLoadBalancer({ ...base, allowedPeers: ["198.51.100.7/32"] }, opts));
    expect(ofType(resources, "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule").map((r) => r.name)).toEqual([
      "lb-peer-198-51-100-7-32",
    ]);
  });

  it("passes TCP through to nginx in FROMS3 mode", async () => {
    const { resources } = await recordComponent((opts) => createLoadBalancer(base, opts));
    const listener = inputs(one(resources, "aws:lb/listener:Listener"));
    expect(listener).toMatchObject({ protocol: "TCP", port: 443 });
    expect(listener.certificateArn).toBeUndefined();
    expect(listener.sslPolicy).toBeUndefined();
    expect(inputs(one(resources, "aws:lb/targetGroup:TargetGroup")).protocol).toBe("TCP");
  });

  it("ends TLS at the NLB with the ACM certificate and AWS's current TLS 1.3 policy (no CBC, hybrid post-quantum), re-encrypting to the task", async () => {
    const arn = "arn:aws:acm:eu-central-1:123456789012:certificate/abc";
    const { resources } = await recordComponent((opts) =>
      createLoadBalancer({ ...base, certificateMode: "ACM", acmCertificateArn: arn }, opts),
    );
    expect(inputs(one(resources, "aws:lb/listener:Listener"))).toMatchObject({
      protocol: "TLS",
      port: 443,
      certificateArn: arn,
      sslPolicy: "ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09",
    });
    expect(TLS_POLICY).toMatch(/^ELBSecurityPolicy-TLS13-/);
    expect(inputs(one(resources, "aws:lb/targetGroup:TargetGroup")).protocol).toBe("TLS");
  });

  it("targets task IPs, keeps the client's address, checks the given path over HTTP, and drains for the given delay", async () => {
    const { resources } = await recordComponent((opts) => createLoadBalancer(base, opts));
    expect(inputs(one(resources, "aws:lb/targetGroup:TargetGroup"))).toMatchObject({
      targetType: "ip",
      port: 443,
      preserveClientIp: "true",
      vpcId: "vpc-1",
      healthCheck: { enabled: true, protocol: "HTTP", port: "8081", path: "/live", matcher: "200" },
      deregistrationDelay: 45,
    });
  });

  it("turns on deletion protection when asked, and keeps TCP connections open longer than nginx waits on the app", async () => {
    const { resources } = await recordComponent((opts) => createLoadBalancer({ ...base, deletionProtection: true }, opts));
    expect(inputs(one(resources, "aws:lb/loadBalancer:LoadBalancer")).enableDeletionProtection).toBe(true);
    expect(inputs(one(resources, "aws:lb/listener:Listener")).tcpIdleTimeoutSeconds).toBeGreaterThan(UPSTREAM_TIMEOUT_SECONDS.FROMS3);
    expect(listenerIdleTimeoutSeconds("ACM")).toBeGreaterThan(UPSTREAM_TIMEOUT_SECONDS.ACM);
  });

  it("refuses ACM mode without a certificate", async () => {
    await expect(recordComponent((opts) => createLoadBalancer({ ...base, certificateMode: "ACM" }, opts))).rejects.toThrow(/certificate ARN/);
  });
});

describe("the ACM example stack file (stacks/examples/Pulumi.acm.yaml)", () => {
  const REPO = path.resolve(__dirname, "..");
  const FILE = "stacks/examples/Pulumi.acm.yaml";

  it("plans a TLS listener with AWS's post-quantum TLS 1.3 policy and a target check on /live", async () => {
    const { code, stdout } = await plan([FILE, "--json"], REPO);
    expect(code).toBe(0);
    const planned = JSON.parse(stdout) as { type: string; inputs: Record<string, any> }[];
    const listener = planned.find((r) => r.type === "aws:lb/listener:Listener")!.inputs;
    expect(listener).toMatchObject({ protocol: "TLS", sslPolicy: "ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09" });
    expect(planned.find((r) => r.type === "aws:lb/targetGroup:TargetGroup")!.inputs.healthCheck).toMatchObject({ port: "8081", path: "/live" });
  });

  it("passes every policy of the pack", async () => {
    const file = readStackFile(FILE, REPO);
    const { resources } = await recordStack(file.stack, file.config, undefined, { projectDir: file.projectDir, warnings: [] });
    expect(await evaluatePolicies(resources, policies, { "no-world-ingress": "mandatory" })).toEqual([]);
  });
});
