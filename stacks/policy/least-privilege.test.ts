// The least-privilege rules over the recorded prod graph: it passes them, and each rule
// fails when the part it guards is taken away or widened. The plan's own deploy role and the
// task role are evaluated against the planned bucket and key policies: nobody is locked out.
import * as path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { objectKey } from "../../app/src/storage/object-key";
import { MOCK_ACCOUNT_ID, MOCK_DEPLOY_ROLE } from "../offline/mocks";
import { loadSamples } from "../smoke/samples";
import { recordStack, type RecordedResource } from "../offline/record";
import { readStackFile } from "../offline/stack-file";
import { evaluatePolicies } from "./evaluate";
import { allows, denyingStatements, statementsOf, type IamRequest } from "./iam-evaluate";
import {
  BUCKET_MANAGEMENT_ACTIONS,
  keyPolicyExplicit,
  leastPrivilegePolicies,
  listUnderPrefix,
  phiKeyNotShared,
  phiObjectsDenied,
  readOnlyRootFilesystem,
  s3EndpointPolicy,
} from "./least-privilege";

const REPO = path.resolve(__dirname, "..", "..");
const DEPLOY_ROLE = `arn:aws:iam::${MOCK_ACCOUNT_ID}:role/${MOCK_DEPLOY_ROLE}`;
const TASK_ROLE = `arn:aws:iam::${MOCK_ACCOUNT_ID}:role/stowrs-prod-task`;
const TLS = { "aws:SecureTransport": "true" };
const VIA_S3 = { "kms:ViaService": "s3.eu-central-1.amazonaws.com", "kms:CallerAccount": MOCK_ACCOUNT_ID };

let prod: RecordedResource[];
beforeAll(async () => {
  const file = readStackFile("prod", REPO);
  prod = (await recordStack(file.stack, file.config, undefined, { projectDir: file.projectDir, warnings: [] })).resources;
});

const named = (name: string, type: string) => prod.find((r) => r.name === name && r.type === type)!;
const dicomPolicy = () => named("stowrs-prod-dicom-policy", "aws:s3/bucketPolicy:BucketPolicy");
const keyPolicy = () => String(named("stowrs-prod-dicom", "aws:kms/key:Key").inputs.policy);
const dicomBucket = () => String(named("stowrs-prod-dicom", "aws:s3/bucket:Bucket").id);

/** The graph with one resource's inputs changed (or the resource left out when `change` returns undefined). */
function edited(name: string, type: string, change: (inputs: Record<string, any>) => Record<string, any> | undefined): RecordedResource[] {
  return prod.flatMap((r) => {
    if (r.name !== name || r.type !== type) return [r];
    const inputs = change(structuredClone(r.inputs) as Record<string, any>);
    return inputs ? [{ ...r, inputs }] : [];
  });
}

function withStatements(policy: unknown, change: (statements: any[]) => any[]): string {
  const doc = JSON.parse(String(policy));
  return JSON.stringify({ ...doc, Statement: change(doc.Statement) });
}

async function violations(resources: RecordedResource[], rule: (typeof leastPrivilegePolicies)[number]): Promise<string[]> {
  return (await evaluatePolicies(resources, [rule])).map((v) => v.message);
}

describe("the planned prod policies", () => {
  it("pass every least-privilege rule", async () => {
    expect(await evaluatePolicies(prod, leastPrivilegePolicies)).toEqual([]);
  });

  it("lock neither the plan's deploy role out of managing the DICOM bucket nor the task role out of its objects", () => {
    const policy = dicomPolicy().inputs.policy;
    const bucketArn = `arn:aws:s3:::${dicomBucket()}`;
    const object = `${bucketArn}/dicom/1.2.3/1.2.3.4/1.2.3.4.5.dcm`;
    const ask = (principalArn: string, action: string, resource: string): IamRequest => ({ principalArn, action, resource, context: TLS });
    for (const action of BUCKET_MANAGEMENT_ACTIONS) expect(denyingStatements(policy, ask(DEPLOY_ROLE, action, bucketArn)), action).toEqual([]);
    for (const action of ["s3:PutObject", "s3:GetObject", "s3:GetObjectTagging", "s3:PutObjectTagging", "s3:AbortMultipartUpload"]) {
      expect(denyingStatements(policy, ask(TASK_ROLE, action, object)), action).toEqual([]);
    }
    // Everyone else is refused the PHI; the deploy role reads (HEAD, tags) the smoke samples only, and deletes nothing.
    expect(denyingStatements(policy, ask(DEPLOY_ROLE, "s3:GetObject", object))).toEqual(["DeployRoleReadsSmokeSamplesOnly"]);
    expect(denyingStatements(policy, ask(DEPLOY_ROLE, "s3:DeleteObject", object))).toEqual(["DeployRoleDeletesNoObject"]);
    for (const key of loadSamples().map((sample) => objectKey("dicom", sample))) {
      for (const action of ["s3:GetObject", "s3:GetObjectTagging"]) expect(denyingStatements(policy, ask(DEPLOY_ROLE, action, `${bucketArn}/${key}`)), `${action} ${key}`).toEqual([]);
    }
    expect(denyingStatements(policy, ask(`arn:aws:iam::${MOCK_ACCOUNT_ID}:role/Admin`, "s3:DeleteObjectVersion", object))).toEqual(["DenyObjectReadDeleteToOthers"]);
  });

  it("let the deploy role administer the key but not decrypt, and the task role use it through S3 only", () => {
    const key = (principalArn: string, action: string, context: Record<string, string> = {}): IamRequest => ({ principalArn, action, resource: "*", context });
    for (const action of ["kms:PutKeyPolicy", "kms:DescribeKey", "kms:GetKeyPolicy", "kms:EnableKeyRotation", "kms:TagResource", "kms:ScheduleKeyDeletion"]) {
      expect(allows(keyPolicy(), key(DEPLOY_ROLE, action)), action).toBe(true);
    }
    expect(allows(keyPolicy(), key(DEPLOY_ROLE, "kms:Decrypt", VIA_S3))).toBe(false);
    expect(allows(keyPolicy(), key(DEPLOY_ROLE, "kms:CreateGrant"))).toBe(false);
    expect(allows(keyPolicy(), key(TASK_ROLE, "kms:GenerateDataKey", VIA_S3))).toBe(true);
    expect(allows(keyPolicy(), key(TASK_ROLE, "kms:Decrypt", VIA_S3))).toBe(true);
    expect(allows(keyPolicy(), key(TASK_ROLE, "kms:Decrypt"))).toBe(false);
    expect(allows(keyPolicy(), key(TASK_ROLE, "kms:PutKeyPolicy"))).toBe(false);
    expect(allows(keyPolicy(), key(`arn:aws:iam::${MOCK_ACCOUNT_ID}:role/Admin`, "kms:Decrypt", VIA_S3))).toBe(false);
    // A read-only role (previews, the drift check) may read the key's metadata, with its own IAM rights.
    expect(allows(keyPolicy(), key(`arn:aws:iam::${MOCK_ACCOUNT_ID}:role/prod-preview`, "kms:GetKeyPolicy"))).toBe(true);
    expect(allows(keyPolicy(), key(`arn:aws:iam::${MOCK_ACCOUNT_ID}:role/prod-preview`, "kms:PutKeyPolicy"))).toBe(false);
  });

  it("let the S3 endpoint reach the stack's buckets and ECR's layers, nothing else", () => {
    const policy = named("stowrs-prod-s3-endpoint", "aws:ec2/vpcEndpointPolicy:VpcEndpointPolicy").inputs.policy;
    const any = "arn:aws:iam::999999999999:role/anyone";
    expect(allows(policy, { principalArn: any, action: "s3:GetObject", resource: "arn:aws:s3:::prod-eu-central-1-starport-layer-bucket/sha256/ab" })).toBe(true);
    expect(allows(policy, { principalArn: any, action: "s3:PutObject", resource: `arn:aws:s3:::${dicomBucket()}/dicom/1/2/3.dcm` })).toBe(true);
    expect(allows(policy, { principalArn: any, action: "s3:PutObject", resource: "arn:aws:s3:::somebody-elses-bucket/x" })).toBe(false);
    expect(allows(policy, { principalArn: any, action: "s3:ListBucket", resource: `arn:aws:s3:::${dicomBucket()}`, context: { "s3:prefix": "" } })).toBe(false);
  });
});

describe("each rule fails when its part is taken away", () => {
  it("s3-phi-objects-named-readers-only: no deny, the task role left out, or the deploy role locked out", async () => {
    const bp = ["stowrs-prod-dicom-policy", "aws:s3/bucketPolicy:BucketPolicy"] as const;
    const noDeny = edited(...bp, (i) => ({ ...i, policy: withStatements(i.policy, (s) => s.filter((x) => x.Sid !== "DenyObjectReadDeleteToOthers")) }));
    expect(await violations(noDeny, phiObjectsDenied)).toContainEqual(expect.stringMatching(/lets any principal with IAM rights s3:GetObject/));
    const withoutTask = edited(...bp, (i) => ({
      ...i,
      policy: withStatements(i.policy, (s) => s.map((x) => (x.Sid === "DenyObjectReadDeleteToOthers" ? { ...x, Condition: { ArnNotLike: { "aws:PrincipalArn": ["arn:aws:iam::123456789012:role/someone"] } } } : x))),
    }));
    expect(await violations(withoutTask, phiObjectsDenied)).toContainEqual(expect.stringMatching(/does not name the writing role stowrs-prod-task/));
    const lockout = edited(...bp, (i) => ({
      ...i,
      policy: withStatements(i.policy, (s) => s.map((x) => (x.Sid === "DenyObjectReadDeleteToOthers" ? { ...x, Action: "s3:*", Resource: [x.Resource, x.Resource.replace(/\/\*$/, "")] } : x))),
    }));
    expect(await violations(lockout, phiObjectsDenied)).toContainEqual(expect.stringMatching(/locks the deploying identity out of s3:PutBucketPolicy/));
    const noPolicy = prod.filter((r) => r.name !== bp[0]);
    expect(await violations(noPolicy, phiObjectsDenied)).toContainEqual(expect.stringMatching(/has no bucket policy restricting who reads them/));
  });

  it("s3-list-under-prefix: listing without the s3:prefix condition", async () => {
    const wide = edited("stowrs-prod-task", "aws:iam/rolePolicy:RolePolicy", (i) => ({
      ...i,
      policy: withStatements(i.policy, (s) => s.map(({ Condition: _c, ...x }) => x)),
    }));
    expect(await violations(wide, listUnderPrefix)).toContainEqual(expect.stringMatching(/lets the role list the whole bucket/));
  });

  it("kms-key-policy-explicit: no policy, the account's IAM deciding, or use outside S3", async () => {
    const key = ["stowrs-prod-dicom", "aws:kms/key:Key"] as const;
    expect(await violations(edited(...key, ({ policy: _p, ...i }) => i), keyPolicyExplicit)).toEqual([expect.stringMatching(/has no key policy of its own/)]);
    const root = edited(...key, (i) => ({
      ...i,
      policy: withStatements(i.policy, (s) => [...s, { Sid: "EnableIamUserPermissions", Effect: "Allow", Principal: { AWS: "arn:aws:iam::123456789012:root" }, Action: "kms:*", Resource: "*" }]),
    }));
    expect(await violations(root, keyPolicyExplicit)).toEqual([
      "EnableIamUserPermissions grants every KMS action",
      "EnableIamUserPermissions names no principal (aws:PrincipalArn): the account's IAM policies would decide",
      "EnableIamUserPermissions lets its principals use the key directly, not only through a service (kms:ViaService)",
    ]);
    const direct = edited(...key, (i) => ({
      ...i,
      policy: withStatements(i.policy, (s) => s.map((x) => (x.Sid === "TaskRoleUsesThroughS3" ? { ...x, Condition: { ArnEquals: x.Condition.ArnEquals } } : x))),
    }));
    expect(await violations(direct, keyPolicyExplicit)).toEqual(["TaskRoleUsesThroughS3 lets its principals use the key directly, not only through a service (kms:ViaService)"]);
  });

  it("kms-phi-key-not-shared: the certificate bucket on the DICOM key", async () => {
    const dicomKey = named("stowrs-prod-dicom-encryption", "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration").inputs.rules;
    const shared = edited("stowrs-prod-certificates-encryption", "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration", (i) => ({ ...i, rules: dicomKey }));
    expect(await violations(shared, phiKeyNotShared)).toEqual([expect.stringMatching(/^bucket stowrs-prod-certs-\w+ shares the PHI key of stowrs-prod-dicom-\w+$/)]);
  });

  it("s3-endpoint-policy: no policy, every bucket, or no ECR layers", async () => {
    const ep = ["stowrs-prod-s3-endpoint", "aws:ec2/vpcEndpointPolicy:VpcEndpointPolicy"] as const;
    expect(await violations(edited(...ep, () => undefined), s3EndpointPolicy)).toEqual([expect.stringMatching(/has no endpoint policy/)]);
    const open = edited(...ep, (i) => ({ ...i, policy: JSON.stringify({ Statement: [{ Effect: "Allow", Principal: "*", Action: "s3:*", Resource: "*" }] }) }));
    expect(await violations(open, s3EndpointPolicy)).toContainEqual(expect.stringMatching(/allows every bucket/));
    const noLayers = edited(...ep, (i) => ({ ...i, policy: withStatements(i.policy, (s) => s.filter((x) => x.Sid !== "EcrImageLayers")) }));
    expect(await violations(noLayers, s3EndpointPolicy)).toEqual([expect.stringMatching(/leaves out ECR's layer bucket/)]);
  });

  it("ecs-read-only-root: a container with a writable root", async () => {
    const writable = edited("stowrs-prod", "aws:ecs/taskDefinition:TaskDefinition", (i) => ({
      ...i,
      containerDefinitions: JSON.stringify(JSON.parse(i.containerDefinitions).map((c: any) => (c.name === "app" ? { ...c, readonlyRootFilesystem: false } : c))),
    }));
    expect(await violations(writable, readOnlyRootFilesystem)).toEqual(["container app has a writable root file system"]);
  });
});

describe("iam-evaluate", () => {
  const deny = (Condition: Record<string, unknown>) => JSON.stringify({ Statement: [{ Effect: "Deny", Principal: "*", Action: "s3:GetObject*", Resource: "arn:aws:s3:::b/*", Condition }] });
  const req = (principalArn: string | undefined, context: Record<string, string> = {}): IamRequest => ({ principalArn, action: "s3:GetObjectVersion", resource: "arn:aws:s3:::b/k", context });

  it("matches action and resource wildcards, and ArnNotLike with wildcards and a missing key", () => {
    const policy = deny({ ArnNotLike: { "aws:PrincipalArn": ["arn:aws:iam::1:role/reader-*"] } });
    expect(denyingStatements(policy, req("arn:aws:iam::1:role/reader-a"))).toEqual([]);
    expect(denyingStatements(policy, req("arn:aws:iam::1:role/writer"))).toEqual(["#1"]);
    // A negated operator holds when the key is missing: a service principal is denied.
    expect(denyingStatements(policy, req(undefined))).toEqual(["#1"]);
  });

  it("reads IfExists, StringLike and Bool, and refuses to guess about operators it does not know", () => {
    expect(denyingStatements(deny({ StringLikeIfExists: { "s3:prefix": "a/*" } }), req("x"))).toEqual(["#1"]);
    expect(denyingStatements(deny({ StringLike: { "s3:prefix": "a/*" } }), req("x"))).toEqual([]);
    expect(denyingStatements(deny({ Bool: { "aws:SecureTransport": "false" } }), req("x", { "aws:SecureTransport": "true" }))).toEqual([]);
    expect(denyingStatements(deny({ IpAddress: { "aws:SourceIp": "10.0.0.0/8" } }), req("x"))).toEqual(["#1"]);
    expect(statementsOf("not json")).toEqual([]);
  });
});
