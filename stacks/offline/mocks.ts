// Stand-in for the AWS provider under Pulumi's runtime mocks: returns the inputs back
// plus deterministic values for what AWS would compute (ids, ARNs, DNS names), so the
// program runs to completion offline and the recorded graph is the same on every run.
import { createHash } from "node:crypto";
import type * as pulumi from "@pulumi/pulumi";
import { roleOfCaller } from "../dicom-access";
import { mockPrivateKey, mockSelfSignedCert } from "./mock-tls";

export const MOCK_ACCOUNT_ID = "123456789012";
/** The offline plan deploys as a session of this role, as CI would (a role assumed through OIDC). */
export const MOCK_DEPLOY_ROLE = "stowrs-deploy";
export const MOCK_CALLER_ARN = `arn:aws:sts::${MOCK_ACCOUNT_ID}:assumed-role/${MOCK_DEPLOY_ROLE}/offline-plan`;

type Inputs = Record<string, any>;

export class OfflineAwsMocks implements pulumi.runtime.Mocks {
  constructor(private readonly region: string) {}

  call(args: pulumi.runtime.MockCallArgs): Record<string, any> {
    switch (args.token) {
      case "aws:index/getCallerIdentity:getCallerIdentity":
        return {
          accountId: MOCK_ACCOUNT_ID,
          arn: MOCK_CALLER_ARN,
          userId: "AROAOFFLINEPLAN:offline-plan",
          id: MOCK_ACCOUNT_ID,
        };
      case "aws:iam/getSessionContext:getSessionContext": {
        const arn = String(args.inputs.arn);
        const issuerArn = roleOfCaller(arn);
        return { arn, issuerArn, issuerName: issuerArn.slice(issuerArn.lastIndexOf("/") + 1), issuerId: "AROAOFFLINEPLAN", sessionName: arn.slice(arn.lastIndexOf("/") + 1), id: arn };
      }
      case "aws:index/getAvailabilityZones:getAvailabilityZones": {
        const names = ["a", "b", "c"].map((z) => `${this.region}${z}`);
        return { names, zoneIds: names.map((_, i) => `${this.region}-az${i + 1}`), id: this.region };
      }
      case "aws:index/getRegion:getRegion":
        return { name: this.region, region: this.region, id: this.region };
      case "aws:index/getPartition:getPartition":
        return { partition: "aws", dnsSuffix: "amazonaws.com", id: "aws" };
      default:
        throw new Error(`offline plan has no mock for the call ${args.token}`);
    }
  }

  newResource(args: pulumi.runtime.MockResourceArgs): { id: string; state: Inputs } {
    const inputs: Inputs = unwrapSecrets(args.inputs ?? {});
    const id = this.idFor(args.type, args.name, inputs);
    return { id, state: { ...inputs, ...this.computed(args.type, args.name, id, inputs) } };
  }

  private idFor(type: string, name: string, inputs: Inputs): string {
    if (type === "aws:s3/bucket:Bucket") return physicalName(inputs.bucketPrefix ?? name, name, 26);
    if (typeof inputs.name === "string" && inputs.name !== "") return inputs.name;
    return `${name}-id`;
  }

  private computed(type: string, name: string, id: string, inputs: Inputs): Inputs {
    const region = this.region;
    const account = MOCK_ACCOUNT_ID;
    const generatedName = typeof inputs.name === "string" ? inputs.name : physicalName(name, name, 7);
    switch (type) {
      case "aws:s3/bucket:Bucket":
        return { bucket: id, arn: `arn:aws:s3:::${id}`, region };
      case "aws:iam/role:Role":
        return { name: generatedName, arn: `arn:aws:iam::${account}:role/${generatedName}` };
      case "aws:cloudwatch/logGroup:LogGroup":
        return { name: generatedName, arn: `arn:aws:logs:${region}:${account}:log-group:${generatedName}` };
      case "aws:kms/key:Key":
        return { keyId: `${name}-key-id`, arn: `arn:aws:kms:${region}:${account}:key/${name}-key-id` };
      case "aws:ecr/repository:Repository":
        return {
          name: generatedName,
          arn: `arn:aws:ecr:${region}:${account}:repository/${generatedName}`,
          repositoryUrl: `${account}.dkr.ecr.${region}.amazonaws.com/${generatedName}`,
        };
      case "awsx:ecr:Image":
        return { imageUri: `${inputs.repositoryUrl}@sha256:${digest(name)}` };
      case "aws:lb/loadBalancer:LoadBalancer":
        return {
          name: generatedName,
          arn: `arn:aws:elasticloadbalancing:${region}:${account}:loadbalancer/net/${generatedName}/0123456789abcdef`,
          arnSuffix: `net/${generatedName}/0123456789abcdef`,
          dnsName: `${generatedName}-0123456789abcdef.elb.${region}.amazonaws.com`,
        };
      case "aws:lb/targetGroup:TargetGroup":
        return {
          name: generatedName,
          arn: `arn:aws:elasticloadbalancing:${region}:${account}:targetgroup/${generatedName}/0123456789abcdef`,
        };
      case "aws:ecs/cluster:Cluster":
        return { name: generatedName, arn: `arn:aws:ecs:${region}:${account}:cluster/${generatedName}` };
      case "aws:ecs/service:Service":
        return { name: generatedName, arn: `arn:aws:ecs:${region}:${account}:service/${generatedName}` };
      case "tls:index/privateKey:PrivateKey":
        return mockPrivateKey();
      case "tls:index/selfSignedCert:SelfSignedCert":
        return mockSelfSignedCert(inputs);
      case "aws:sqs/queue:Queue":
        return { name: generatedName, arn: `arn:aws:sqs:${region}:${account}:${generatedName}`, url: `https://sqs.${region}.amazonaws.com/${account}/${generatedName}` };
      case "aws:cloudwatch/eventRule:EventRule":
        return { name: generatedName, arn: `arn:aws:events:${region}:${account}:rule/${generatedName}` };
      case "aws:cloudtrail/trail:Trail":
        return { name: generatedName, arn: `arn:aws:cloudtrail:${region}:${account}:trail/${generatedName}` };
      case "aws:sns/topic:Topic":
        return { name: generatedName, arn: `arn:aws:sns:${region}:${account}:${generatedName}` };
      case "aws:ecs/taskDefinition:TaskDefinition":
        return { arn: `arn:aws:ecs:${region}:${account}:task-definition/${inputs.family}:1`, revision: 1 };
      default: {
        const [pkg, module] = type.split(":");
        return pkg === "aws" ? { arn: `arn:aws:${module.split("/")[0]}:${region}:${account}:${id}` } : {};
      }
    }
  }
}

const SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d";
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";

/** Secret inputs reach the mocks wrapped; the values AWS would compute from them are plain. */
export function unwrapSecrets<T>(value: T): T {
  if (value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) return value.map(unwrapSecrets) as T;
  const record = value as Record<string, unknown>;
  if (record[SECRET_SIG_KEY] === SECRET_SIG) return unwrapSecrets(record.value) as T;
  return Object.fromEntries(Object.entries(record).map(([k, v]) => [k, unwrapSecrets(v)])) as T;
}

/** Auto-naming as the provider does it: the logical name plus a (here: stable) suffix. */
function physicalName(prefix: string, seed: string, suffixLength: number): string {
  return `${prefix}${prefix.endsWith("-") ? "" : "-"}${digest(seed).slice(0, suffixLength - 1)}`;
}

function digest(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}
