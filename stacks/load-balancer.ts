// Internet-facing NLB. Its security group has to exist when the NLB is created (one
// cannot be attached later), and holds one ingress rule per allowed peer on 443.
// ACM mode ends TLS here and re-encrypts to nginx; FROMS3 passes TCP through so
// nginx can see (and with clientauth, verify) the client's certificate.
import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";
import type { CertificateConfig } from "./config";

/**
 * AWS's current console default for TLS listeners: TLS 1.3, and TLS 1.2 with AEAD (GCM,
 * CHACHA20) suites only for older senders (no CBC, no TLS 1.0/1.1), with hybrid
 * post-quantum key exchange (X25519MLKEM768 and friends) for clients that offer it.
 */
export const TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09";
export const TLS_PORT = 443;

/**
 * Idle timeouts, in seconds. While the app finishes an instance's S3 upload after the last
 * byte, the client's connection carries nothing; the NLB must not drop it before nginx
 * gives up on the app. TCP listeners take 60-6000 s; TLS listeners (ACM) have a fixed 350 s,
 * so nginx waits less there.
 */
export const TCP_IDLE_TIMEOUT_SECONDS = 3660;
export const TLS_LISTENER_IDLE_TIMEOUT_SECONDS = 350;
export const UPSTREAM_TIMEOUT_SECONDS: Record<CertificateConfig["mode"], number> = { FROMS3: 3600, ACM: 300 };

/** What the listener of a mode lets a connection sit idle. */
export function listenerIdleTimeoutSeconds(mode: CertificateConfig["mode"]): number {
  return mode === "ACM" ? TLS_LISTENER_IDLE_TIMEOUT_SECONDS : TCP_IDLE_TIMEOUT_SECONDS;
}

export interface LoadBalancerArgs {
  appName: string;
  vpcId: pulumi.Input<string>;
  publicSubnetIds: pulumi.Input<string>[];
  allowedPeers: string[];
  certificateMode: CertificateConfig["mode"];
  acmCertificateArn?: string;
  /** Plain-HTTP port and path on the task that answer 200 while nginx and the app take requests (no S3). */
  healthCheck: { port: number; path: string };
  /** How long a deregistered task keeps its connections (drain.ts: fargate.drainSeconds). */
  deregistrationDelaySeconds: number;
  /** AWS refuses to delete the NLB until this is turned off again. */
  deletionProtection: boolean;
  /** The attached internet gateway and public routes (Network.internetAccess); the NLB is created after them. */
  internetAccess: pulumi.Resource[];
}

export interface LoadBalancer {
  arn: pulumi.Output<string>;
  dnsName: pulumi.Output<string>;
  securityGroupId: pulumi.Output<string>;
  targetGroupArn: pulumi.Output<string>;
  /** The service must not register targets before the listener binds its target group. */
  listener: aws.lb.Listener;
}

export function createLoadBalancer(args: LoadBalancerArgs, opts: pulumi.CustomResourceOptions): LoadBalancer {
  const { appName } = args;
  if (args.certificateMode === "ACM" && !args.acmCertificateArn) {
    throw new Error("ACM mode needs the certificate ARN for the listener");
  }
  const securityGroup = new aws.ec2.SecurityGroup(
    `${appName}-nlb`,
    { vpcId: args.vpcId, description: `${appName} load balancer: allowed peers on ${TLS_PORT}`, tags: { Name: `${appName}-nlb` } },
    opts,
  );
  for (const peer of args.allowedPeers) {
    // Named after the CIDR, not its position, so editing the list touches only what changed.
    new aws.vpc.SecurityGroupIngressRule(
      `${appName}-peer-${peer.replace(/[./]/g, "-")}`,
      {
        securityGroupId: securityGroup.id,
        description: `allowed peer ${peer}`,
        ipProtocol: "tcp",
        fromPort: TLS_PORT,
        toPort: TLS_PORT,
        cidrIpv4: peer,
      },
      opts,
    );
  }

  const nlb = new aws.lb.LoadBalancer(
    `${appName}-nlb`,
    {
      loadBalancerType: "network",
      internal: false,
      ipAddressType: "ipv4",
      subnets: args.publicSubnetIds,
      securityGroups: [securityGroup.id],
      enableCrossZoneLoadBalancing: true,
      enableDeletionProtection: args.deletionProtection,
    },
    // Its inputs wait only for the subnets; on a first `up` the gateway may not be attached
    // yet, and ELBv2 then answers InvalidSubnet. Explicit, so the plan shows the order.
    { ...opts, dependsOn: args.internetAccess },
  );

  const terminateAtNlb = args.certificateMode === "ACM";
  const targetGroup = new aws.lb.TargetGroup(
    `${appName}-tg`,
    {
      vpcId: args.vpcId,
      targetType: "ip",
      port: TLS_PORT,
      // ACM: re-encrypt to nginx; FROMS3: the client's TLS session reaches nginx untouched.
      protocol: terminateAtNlb ? "TLS" : "TCP",
      preserveClientIp: "true",
      deregistrationDelay: args.deregistrationDelaySeconds,
      healthCheck: {
        enabled: true,
        protocol: "HTTP",
        port: String(args.healthCheck.port),
        path: args.healthCheck.path,
        matcher: "200",
        interval: 10,
        timeout: 5,
        healthyThreshold: 2,
        unhealthyThreshold: 2,
      },
    },
    opts,
  );

  const listener = new aws.lb.Listener(
    `${appName}-tls`,
    {
      loadBalancerArn: nlb.arn,
      port: TLS_PORT,
      ...(terminateAtNlb
        ? { protocol: "TLS", certificateArn: args.acmCertificateArn, sslPolicy: TLS_POLICY }
        : { protocol: "TCP", tcpIdleTimeoutSeconds: TCP_IDLE_TIMEOUT_SECONDS }),
      defaultActions: [{ type: "forward", targetGroupArn: targetGroup.arn }],
    },
    opts,
  );

  return {
    arn: nlb.arn,
    dnsName: nlb.dnsName,
    securityGroupId: securityGroup.id,
    targetGroupArn: targetGroup.arn,
    listener,
  };
}
