// The deploy identity's policy (stacks/deploy-policy.json) against what the program needs:
// every resource type and data source of the recorded plans must have a row in
// deploy-permissions.ts, and the file must allow every action of those rows. A resource type
// added without a row, or an action taken out of the file, fails here, before a `pulumi up`
// fails half-way with AccessDenied.
import * as fs from "node:fs";
import * as path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import {
  allowsAction,
  INVOKE_ACTIONS,
  missingActions,
  requiredActions,
  RESOURCE_ACTIONS,
  WORKFLOW_ACTIONS,
  type PolicyDocument,
} from "./deploy-permissions";
import { recordStack, type RecordedStack } from "./offline/record";
import { listStacks, readStackFile } from "./offline/stack-file";
import { configMap } from "./testing/harness";

const REPO = path.resolve(__dirname, "..");
const POLICY_FILE = path.join(__dirname, "deploy-policy.json");
const policy = (): PolicyDocument => JSON.parse(fs.readFileSync(POLICY_FILE, "utf8"));
const CA = "stacks/examples/placeholder-client-ca.crt";
const ACM_ARN = "arn:aws:acm:eu-central-1:123456789012:certificate/0b1c2d3e-aaaa-bbbb-cccc-0123456789ab";

/** Modes a stack file may switch to, so their resource types are covered whatever the committed files use. */
const VARIANTS: Record<string, Record<string, unknown>> = {
  "ACM, oidc, prebuilt images": {
    certificate: { mode: "ACM", authMode: "oidc", arn: ACM_ARN },
    oidc: { issuer: "https://login.hospital.test/realms/imaging", audience: "stowrs" },
    images: { app: "123456789012.dkr.ecr.eu-central-1.amazonaws.com/stowrs-app:1", nginx: "123456789012.dkr.ecr.eu-central-1.amazonaws.com/stowrs-nginx:1" },
  },
  "FROMS3 clientauth, SSE-KMS, autoscaling, built images": {
    bucketEncryption: "SSE-KMS",
    certificate: { mode: "FROMS3", authMode: "clientauth", truststore: CA },
    fargate: { cpu: 512, memory: 1024, taskCount: 2, minTasks: 2, maxTasks: 4 },
  },
  "FROMS3 external bucket, SSE-S3": {
    bucketEncryption: "SSE-S3",
    certificate: { mode: "FROMS3", authMode: "anonymous", source: "external", bucket: "site-tls" },
  },
  "more tags than an S3 object takes": {
    tags: Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`t${i}`, "x"])),
  },
};

const plans: { label: string; recorded: RecordedStack }[] = [];
beforeAll(async () => {
  for (const stack of listStacks(REPO)) {
    const file = readStackFile(stack, REPO);
    plans.push({ label: `stack file ${stack}`, recorded: await recordStack(file.stack, file.config, undefined, { projectDir: file.projectDir, warnings: [] }) });
  }
  for (const [label, overrides] of Object.entries(VARIANTS)) {
    plans.push({ label, recorded: await recordStack("variant", configMap(overrides), undefined, { warnings: [] }) });
  }
}, 120_000);

function planned(): { types: Map<string, string[]>; invokes: Map<string, string[]> } {
  const types = new Map<string, string[]>();
  const invokes = new Map<string, string[]>();
  for (const { label, recorded } of plans) {
    for (const r of recorded.resources) types.set(r.type, [...(types.get(r.type) ?? []), label]);
    for (const i of recorded.invokes) invokes.set(i, [...(invokes.get(i) ?? []), label]);
  }
  return { types, invokes };
}

/** The policy with every pattern that matches `action` taken out. */
function without(doc: PolicyDocument, action: string): PolicyDocument {
  const probe = (pattern: string) => allowsAction({ Version: doc.Version, Statement: [{ Effect: "Allow", Action: pattern }] }, action);
  return {
    ...doc,
    Statement: doc.Statement.map((s) => ({ ...s, Action: ([] as string[]).concat(s.Action ?? []).filter((p) => !probe(p)) })),
  };
}

describe("the deploy identity's permissions", () => {
  it("recorded the stack files and the variants", () => {
    expect(plans.map((p) => p.label)).toEqual(expect.arrayContaining(["stack file dev", "stack file prod", ...Object.keys(VARIANTS)]));
    expect(planned().types.has("aws:appautoscaling/policy:Policy")).toBe(true);
  });

  it("has a row for every resource type the plans create", () => {
    const missing = [...planned().types].filter(([type]) => !RESOURCE_ACTIONS[type]).map(([type, where]) => `${type} (in ${[...new Set(where)].join(", ")})`);
    expect(missing, "add a row to RESOURCE_ACTIONS in stacks/deploy-permissions.ts (and its actions to stacks/deploy-policy.json)").toEqual([]);
  });

  it("has a row for every data source the plans read", () => {
    const missing = [...planned().invokes.keys()].filter((token) => !INVOKE_ACTIONS[token]);
    expect(missing, "add a row to INVOKE_ACTIONS in stacks/deploy-permissions.ts").toEqual([]);
  });

  it("stacks/deploy-policy.json allows every action to create, update, delete and read them, and what the workflow runs", () => {
    const { types, invokes } = planned();
    const needs = requiredActions(types.keys(), invokes.keys());
    expect(needs.size).toBeGreaterThan(100);
    expect(missingActions(policy(), needs), "add these to stacks/deploy-policy.json").toEqual([]);
  });

  it("allows every action of every row, including the resource types the plans do not use yet", () => {
    const needs = requiredActions(Object.keys(RESOURCE_ACTIONS), Object.keys(INVOKE_ACTIONS));
    expect(missingActions(policy(), needs), "add these to stacks/deploy-policy.json").toEqual([]);
  });

  it("allows what ECS target-tracking scaling needs: the CloudWatch alarm actions and application-autoscaling", () => {
    const doc = policy();
    for (const action of [
      "cloudwatch:PutMetricAlarm",
      "cloudwatch:DescribeAlarms",
      "cloudwatch:DeleteAlarms",
      "application-autoscaling:RegisterScalableTarget",
      "application-autoscaling:PutScalingPolicy",
      "application-autoscaling:DescribeScalingActivities",
      "ecs:DescribeServices",
      "ecs:UpdateService",
    ]) {
      expect(allowsAction(doc, action), action).toBe(true);
    }
  });

  it.each(["cloudwatch:PutMetricAlarm", "cloudwatch:DescribeAlarms", "cloudwatch:DeleteAlarms"])(
    "fails when %s is taken out of the file",
    (action) => {
      const { types, invokes } = planned();
      const reduced = without(policy(), action);
      expect(allowsAction(reduced, action)).toBe(false);
      const missing = missingActions(reduced, requiredActions(types.keys(), invokes.keys()));
      expect(missing).toHaveLength(1);
      expect(missing[0]).toMatch(new RegExp(`^${action} \\(.*aws:appautoscaling/policy:Policy`));
    },
  );

  it("fails on a resource type without a row, naming it", () => {
    expect(() => requiredActions(["aws:sns/topic:Topic", "aws:example/widget:Widget"])).toThrow(
      "no row for aws:example/widget:Widget in RESOURCE_ACTIONS (stacks/deploy-permissions.ts)",
    );
    expect(() => requiredActions([], ["aws:ec2/getAmi:getAmi"])).toThrow("no row for the data source aws:ec2/getAmi:getAmi");
  });

  it("reads IAM's matching rules for actions: case, wildcards, and Deny over Allow", () => {
    const doc: PolicyDocument = {
      Version: "2012-10-17",
      Statement: [
        { Effect: "Allow", Action: ["s3:Get*", "ec2:Describe?pcs", "logs:createloggroup"] },
        { Effect: "Deny", Action: "s3:GetObjectAcl" },
      ],
    };
    expect(allowsAction(doc, "s3:GetBucketPolicy")).toBe(true);
    expect(allowsAction(doc, "s3:PutBucketPolicy")).toBe(false);
    expect(allowsAction(doc, "s3:GetObjectAcl")).toBe(false);
    expect(allowsAction(doc, "ec2:DescribeVpcs")).toBe(true);
    expect(allowsAction(doc, "ec2:DescribeVpcAttribute")).toBe(false);
    expect(allowsAction(doc, "logs:CreateLogGroup")).toBe(true);
  });

  it("names only resource types the providers have, and actions as service:Action without wildcards", () => {
    for (const type of Object.keys(RESOURCE_ACTIONS)) {
      const m = /^aws:([a-z0-9]+)\/([a-zA-Z0-9]+):([A-Za-z0-9]+)$/.exec(type);
      if (!m) {
        expect(type, "a non-AWS type must be one the program makes").toMatch(/^(pulumi:providers:(aws|tls)|tls:index\/\w+:\w+|awsx:ecr:Image)$/);
        continue;
      }
      const module = require(`@pulumi/aws/${m[1]}/${m[2]}`) as Record<string, unknown>;
      expect(typeof module[m[3]], `${type}: @pulumi/aws/${m[1]}/${m[2]} exports no ${m[3]}`).toBe("function");
    }
    const all = [
      ...Object.values(RESOURCE_ACTIONS).flatMap((r) => [...r.create, ...r.update, ...r.delete, ...r.read]),
      ...Object.values(INVOKE_ACTIONS).flat(),
      ...Object.values(WORKFLOW_ACTIONS).flat(),
    ];
    for (const action of all) expect(action).toMatch(/^(scheduler|ec2|elasticloadbalancing|ecs|ecr|application-autoscaling|cloudwatch|logs|iam|s3|kms|sns|sqs|events|cloudtrail|ssm|sts|route53):[A-Z][A-Za-z0-9]+$/);
  });

  it("fits an IAM managed policy (6,144 characters without white space) and says what each statement is for", () => {
    const text = fs.readFileSync(POLICY_FILE, "utf8");
    expect(text.replace(/\s/g, "").length).toBeLessThanOrEqual(6144);
    const doc = policy();
    expect(doc.Version).toBe("2012-10-17");
    for (const s of doc.Statement) {
      expect(s.Sid, JSON.stringify(s)).toMatch(/^[A-Za-z0-9]+$/);
      expect(s.Effect).toBe("Allow");
      expect(s.Resource, s.Sid).toBeDefined();
      expect(s.NotAction, s.Sid).toBeUndefined();
    }
  });

  it("is the policy stacks/README shows for the deploying identity", () => {
    const readme = fs.readFileSync(path.join(__dirname, "README.md"), "utf8");
    const section = readme.slice(readme.indexOf("### Permissions of the deploying identity"));
    expect(section).toContain("[`deploy-policy.json`](deploy-policy.json)");
    expect(section).toContain("deploy-permissions.ts");
  });
});
