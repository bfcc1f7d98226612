import { describe, expect, it } from "vitest";
import { createAlarms, elbDimension, type AlarmsArgs } from "./alarms";
import type { AlarmSettings } from "./config";
import { notAfterSeconds, PUBLISH_RATE } from "./certificate-expiry";
import { LOG_METRICS } from "./log-metrics";
import { mockPrivateKey, mockSelfSignedCert } from "./offline/mock-tls";
import { inputs, json, ofType, one, recordComponent } from "./testing/harness";

const PEM: string = mockSelfSignedCert({ privateKeyPem: mockPrivateKey().privateKeyPem, subject: { commonName: "st" }, dnsNames: ["st.example"] }).certPem;
const NOT_AFTER = Date.UTC(2049, 11, 31, 23, 59, 59) / 1000;

const settings: AlarmSettings = {
  enabled: true,
  email: "oncall@hospital.test",
  evaluationMinutes: 5,
  cpuPercent: 85,
  memoryPercent: 90,
  refusedInstancesPerMinute: 5,
  capacityRejectionsPerMinute: 10,
  s3UnavailablePerMinute: 0,
  certificateDaysLeft: 30,
};

const args: AlarmsArgs = {
  appName: "st",
  accountId: "123456789012",
  settings,
  loadBalancerArn: "arn:aws:elasticloadbalancing:eu-central-1:123456789012:loadbalancer/net/st-nlb-1a2b3c4/0123456789abcdef",
  targetGroupArn: "arn:aws:elasticloadbalancing:eu-central-1:123456789012:targetgroup/st-tg-5d6e7f8/fedcba9876543210",
  clusterName: "st-cluster",
  serviceName: "st-service",
  appLogGroupName: "/st/ecs/app",
  appMemoryShare: 1792 / 2048,
  certificate: { kind: "pem", pem: PEM },
  deadLetterQueueName: "st-instances-dlq",
};

const alarms = (resources: Awaited<ReturnType<typeof recordComponent>>["resources"]) =>
  new Map(ofType(resources, "aws:cloudwatch/metricAlarm:MetricAlarm").map((r) => [inputs(r).name as string, inputs(r)]));

describe("createAlarms", () => {
  it("makes one topic, subscribes the address, and gives every alarm the topic as alarm and OK action", async () => {
    const { resources, result } = await recordComponent((opts) => createAlarms(args, opts));
    const topic = one(resources, "aws:sns/topic:Topic");
    const arn = "arn:aws:sns:eu-central-1:123456789012:st-alarms";
    expect(inputs(topic).name).toBe("st-alarms");
    expect(inputs(one(resources, "aws:sns/topicSubscription:TopicSubscription"))).toMatchObject({ topic: arn, protocol: "email", endpoint: "oncall@hospital.test" });
    const all = alarms(resources);
    const names = [
      "st-unhealthy-targets",
      "st-tasks-below-desired",
      "st-cpu-high",
      "st-memory-high",
      "st-refused-instances",
      "st-capacity-rejections",
      "st-s3-unavailable",
      "st-certificate-expiry",
      "st-events-dead-letters",
    ];
    expect([...all.keys()].sort()).toEqual([...names].sort());
    for (const [name, a] of all) {
      expect(a.alarmActions, name).toEqual([arn]);
      expect(a.okActions, name).toEqual([arn]);
      expect(a.alarmDescription, name).toMatch(/stacks\/README\.md, Alarms/);
    }
    // In the order of stacks/README.md's table.
    expect(result).toEqual({ topicArn: arn, alarmNames: names });
  });

  it("notifies an existing topic instead, and makes none", async () => {
    const existing = "arn:aws:sns:eu-central-1:123456789012:radiology-oncall";
    const { resources, result } = await recordComponent((opts) => createAlarms({ ...args, settings: { ...settings, email: undefined, topicArn: existing } }, opts));
    expect(ofType(resources, "aws:sns/topic:Topic")).toEqual([]);
    expect(ofType(resources, "aws:sns/topicSubscription:TopicSubscription")).toEqual([]);
    for (const a of alarms(resources).values()) expect(a.alarmActions).toEqual([existing]);
    expect(result.topicArn).toBe(existing);
  });

  it("builds nothing when alarms are off", async () => {
    const { resources, result } = await recordComponent((opts) => createAlarms({ ...args, settings: { ...settings, enabled: false } }, opts));
    expect(resources.filter((r) => r.type.startsWith("aws:"))).toEqual([]);
    expect(result).toBeUndefined();
  });

  it("watches unhealthy targets of this load balancer's target group, and tasks short of desired by metric math", async () => {
    const all = alarms((await recordComponent((opts) => createAlarms(args, opts))).resources);
    expect(all.get("st-unhealthy-targets")).toMatchObject({
      namespace: "AWS/NetworkELB",
      metricName: "UnHealthyHostCount",
      dimensions: { LoadBalancer: "net/st-nlb-1a2b3c4/0123456789abcdef", TargetGroup: "targetgroup/st-tg-5d6e7f8/fedcba9876543210" },
      comparisonOperator: "GreaterThanThreshold",
      threshold: 0,
      period: 60,
      evaluationPeriods: 5,
      datapointsToAlarm: 5,
    });
    const tasks = all.get("st-tasks-below-desired")!;
    expect(tasks.metricQueries.map((q: any) => q.metric?.metricName ?? q.expression)).toEqual(["RunningTaskCount", "DesiredTaskCount", "desired - running"]);
    for (const q of tasks.metricQueries.slice(0, 2)) {
      expect(q.metric).toMatchObject({ namespace: "ECS/ContainerInsights", dimensions: { ClusterName: "st-cluster", ServiceName: "st-service" } });
    }
    expect(tasks).toMatchObject({ comparisonOperator: "GreaterThanThreshold", threshold: 0 });
  });

  it("sets CPU on the service average and memory on the busiest task, relative to the app container's limit", async () => {
    const all = alarms((await recordComponent((opts) => createAlarms(args, opts))).resources);
    expect(all.get("st-cpu-high")).toMatchObject({ namespace: "AWS/ECS", metricName: "CPUUtilization", statistic: "Average", threshold: 85 });
    // 90 % of 1792 MiB is 78.75 % of the 2048 MiB task, rounded down.
    expect(all.get("st-memory-high")).toMatchObject({ namespace: "AWS/ECS", metricName: "MemoryUtilization", statistic: "Maximum", threshold: 78.7 });
  });

  it("turns per-minute rates from the log metrics into sums over the evaluation window", async () => {
    const all = alarms((await recordComponent((opts) => createAlarms(args, opts))).resources);
    const expected = [
      ["st-refused-instances", LOG_METRICS.refusedInstances.metricName, 25],
      ["st-capacity-rejections", LOG_METRICS.capacityRejections.metricName, 50],
      ["st-s3-unavailable", LOG_METRICS.s3Unavailable.metricName, 0],
    ] as const;
    for (const [name, metricName, threshold] of expected) {
      expect(all.get(name)).toMatchObject({
        namespace: "stowrs-to-s3/st",
        metricName,
        statistic: "Sum",
        period: 300,
        evaluationPeriods: 1,
        comparisonOperator: "GreaterThanThreshold",
        threshold,
        treatMissingData: "notBreaching",
      });
    }
  });

  it("publishes a stack-written certificate's notAfter every hour and alarms on the days left", async () => {
    const { resources } = await recordComponent((opts) => createAlarms(args, opts));
    expect(notAfterSeconds(PEM)).toBe(NOT_AFTER);
    const schedule = inputs(one(resources, "aws:scheduler/schedule:Schedule"));
    expect(schedule.scheduleExpression).toBe(PUBLISH_RATE);
    expect(schedule.target.arn).toBe("arn:aws:scheduler:::aws-sdk:cloudwatch:putMetricData");
    expect(json(schedule.target.input)).toEqual({
      Namespace: "stowrs-to-s3/st",
      MetricData: [{ MetricName: "ServerCertificateNotAfter", Value: NOT_AFTER, Unit: "Seconds" }],
    });
    const role = one(resources, "aws:iam/role:Role", "st-certificate-check");
    expect(json(inputs(role).assumeRolePolicy).Statement[0]).toMatchObject({ Principal: { Service: "scheduler.amazonaws.com" }, Condition: { StringEquals: { "aws:SourceAccount": "123456789012" } } });
    expect(json(inputs(one(resources, "aws:iam/rolePolicy:RolePolicy")).policy).Statement).toEqual([
      expect.objectContaining({ Action: "cloudwatch:PutMetricData", Condition: { StringEquals: { "cloudwatch:namespace": "stowrs-to-s3/st" } } }),
    ]);
    const expiry = alarms(resources).get("st-certificate-expiry")!;
    expect(expiry).toMatchObject({ comparisonOperator: "LessThanThreshold", threshold: 30 });
    expect(expiry.metricQueries[1].expression).toBe("IF(notafter, (notafter - EPOCH(notafter)) / 86400)");
    expect(expiry.metricQueries[0].metric).toMatchObject({ namespace: "stowrs-to-s3/st", metricName: "ServerCertificateNotAfter", period: 86400 });
  });

  it("uses ACM's DaysToExpiry in ACM mode, and has no certificate alarm for an external bucket", async () => {
    const acmArn = "arn:aws:acm:eu-central-1:123456789012:certificate/0f1e2d3c-4b5a-6978-8695-a4b3c2d1e0f9";
    const acm = await recordComponent((opts) => createAlarms({ ...args, certificate: { kind: "acm", arn: acmArn } }, opts));
    expect(ofType(acm.resources, "aws:scheduler/schedule:Schedule")).toEqual([]);
    expect(alarms(acm.resources).get("st-certificate-expiry")).toMatchObject({
      namespace: "AWS/CertificateManager",
      metricName: "DaysToExpiry",
      dimensions: { CertificateArn: acmArn },
      statistic: "Minimum",
      comparisonOperator: "LessThanThreshold",
      threshold: 30,
    });
    const external = await recordComponent((opts) => createAlarms({ ...args, certificate: { kind: "external" } }, opts));
    expect(alarms(external.resources).has("st-certificate-expiry")).toBe(false);
  });

  it("alarms on anything in the events' dead-letter queue, only when events are on", async () => {
    const all = alarms((await recordComponent((opts) => createAlarms(args, opts))).resources);
    expect(all.get("st-events-dead-letters")).toMatchObject({ namespace: "AWS/SQS", dimensions: { QueueName: "st-instances-dlq" }, threshold: 0 });
    const without = alarms((await recordComponent((opts) => createAlarms({ ...args, deadLetterQueueName: undefined }, opts))).resources);
    expect(without.has("st-events-dead-letters")).toBe(false);
  });
});

describe("elbDimension", () => {
  it("takes the resource part CloudWatch names load balancers and target groups by", () => {
    expect(elbDimension(args.loadBalancerArn as string)).toBe("net/st-nlb-1a2b3c4/0123456789abcdef");
    expect(elbDimension(args.targetGroupArn as string)).toBe("targetgroup/st-tg-5d6e7f8/fedcba9876543210");
  });
});
