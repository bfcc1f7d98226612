// A first `pulumi up` creates everything at once, in the order the graph allows. What the
// inputs do not order by themselves is ordered explicitly (dependsOn), and the plan shows it:
// the NLB after the attached internet gateway and the public routes, the certificate objects
// after their bucket's posture, and no S3 object with more tags than S3 accepts.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { recordStack, urnName } from "./offline/record";
import { S3_OBJECT_TAG_LIMIT } from "./object-tags";
import { main } from "./plan";
import { evaluatePolicies } from "./policy/evaluate";
import { policies } from "./policy/rules";
import { configMap, inputs, json, ofType, one, recordWith } from "./testing/harness";

const CA = "stacks/examples/placeholder-client-ca.crt";
const REPO = path.resolve(__dirname, "..");
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "stowrs-first-up-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const OBJECT = "aws:s3/bucketObjectv2:BucketObjectv2";
const clientauth = { mode: "FROMS3", authMode: "clientauth", truststore: CA };

describe("a first pulumi up cannot race", () => {
  it("creates the load balancer after the internet gateway and every public route", async () => {
    const { resources } = await recordWith({ appName: "fu" });
    const nlb = one(resources, "aws:lb/loadBalancer:LoadBalancer");
    expect(nlb.dependsOn.map(urnName).sort()).toEqual(["fu-igw", "fu-public-0", "fu-public-1", "fu-public-default"]);
    // Each is the resource it should be: the gateway attached to the VPC, the default
    // route to it, and the association of each subnet the NLB is placed in.
    const byUrn = new Map(resources.map((r) => [r.urn, r]));
    const after = nlb.dependsOn.map((u) => byUrn.get(u)!);
    const igw = after.find((r) => r.type === "aws:ec2/internetGateway:InternetGateway")!;
    expect(inputs(igw).vpcId).toBe(inputs(one(resources, "aws:ec2/subnet:Subnet", "fu-public-0")).vpcId);
    expect(inputs(after.find((r) => r.type === "aws:ec2/route:Route")!)).toMatchObject({ destinationCidrBlock: "0.0.0.0/0", gatewayId: `${igw.name}-id` });
    const associated = after.filter((r) => r.type === "aws:ec2/routeTableAssociation:RouteTableAssociation").map((r) => inputs(r).subnetId).sort();
    expect(associated).toEqual([...inputs(nlb).subnets].sort());
  });

  it("writes the certificate objects after the bucket's encryption, versioning, public access block and policy", async () => {
    const { resources } = await recordStack("test", configMap({ appName: "fu", bucketEncryption: "SSE-KMS", certificate: clientauth }), undefined, { warnings: [] });
    const objects = ofType(resources, OBJECT);
    expect(objects.map((o) => inputs(o).key).sort()).toEqual(["certificate.crt", "certificate.key", "truststore.crt"]);
    for (const o of objects) {
      const names = o.dependsOn.map(urnName);
      for (const setting of ["encryption", "versioning", "public-access", "policy"]) expect(names, o.name).toContain(`fu-certificates-${setting}`);
      // SSE-S3 even in an SSE-KMS stack: the certificate bucket never shares the DICOM key.
      expect(inputs(o), o.name).toMatchObject({ serverSideEncryption: "AES256" });
    }
  });

  it("shows the explicit dependsOn, by name, next to the inputs in npm run plan -- --json", async () => {
    const file = path.join(tmp, "Pulumi.firstup.yaml");
    const config = configMap({ appName: "fu", certificate: clientauth });
    fs.writeFileSync(file, stringify({ config: Object.fromEntries(Object.entries(config).map(([k, v]) => [k, /^[[{]/.test(v) ? JSON.parse(v) : v])) }));
    fs.copyFileSync(path.join(REPO, "Pulumi.yaml"), path.join(tmp, "Pulumi.yaml"));
    fs.symlinkSync(path.join(REPO, "stacks"), path.join(tmp, "stacks"));
    const { code, stdout, stderr } = await main([file, "--json"], REPO);
    expect(stderr).not.toContain("the program failed");
    expect(code).toBe(0);
    const plan = JSON.parse(stdout) as { type: string; name: string; dependsOn: string[]; inputs: Record<string, unknown> }[];
    for (const r of plan) expect(Array.isArray(r.dependsOn), r.name).toBe(true);
    const nlb = plan.find((r) => r.type === "aws:lb/loadBalancer:LoadBalancer")!;
    expect(nlb.dependsOn).toEqual(expect.arrayContaining(["fu-igw", "fu-public-default"]));
    expect(Object.keys(nlb)).toEqual(["type", "name", "provider", "dependsOn", "inputs"]);
    const key = plan.find((r) => r.type === OBJECT && r.inputs.key === "certificate.key")!;
    expect(key.dependsOn).toEqual(expect.arrayContaining(["fu-certificates-encryption", "fu-certificates-policy"]));
    expect(key.inputs.content).toBe("[secret]");
  });
});

describe("an external certificate bucket with its own KMS key", () => {
  it("lets the task role decrypt the files with certificate.kmsKeyArn", async () => {
    const siteKey = "arn:aws:kms:eu-central-1:210987654321:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    const certificate = { mode: "FROMS3", authMode: "anonymous", source: "external", bucket: "site-tls", kmsKeyArn: siteKey };
    const { resources } = await recordWith({ appName: "fu", certificate });
    const statements = json(inputs(one(resources, "aws:iam/rolePolicy:RolePolicy", "fu-task")).policy).Statement;
    expect(statements.find((s: any) => s.Sid === "DecryptTlsMaterial")).toMatchObject({ Action: ["kms:Decrypt"], Resource: siteKey });
    const plain = await recordWith({ appName: "fu", certificate: { ...certificate, kmsKeyArn: undefined } });
    const plainStatements = json(inputs(one(plain.resources, "aws:iam/rolePolicy:RolePolicy", "fu-task")).policy).Statement;
    expect(plainStatements.map((s: any) => s.Sid)).not.toContain("DecryptTlsMaterial");
    expect(JSON.stringify(plainStatements)).not.toContain(siteKey);
  });
});

describe("tags on S3 objects", () => {
  const many = Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`tag-${String(i).padStart(2, "0")}`, `v${i}`]));

  it("keeps the objects within S3's 10 tags, deployment first, and names what they do not carry", async () => {
    const warnings: string[] = [];
    const recorded = await recordStack("test", configMap({ appName: "fu", tags: many, certificate: clientauth }), undefined, { warnings });
    const providers = ofType(recorded.resources, "pulumi:providers:aws");
    expect(providers.map((p) => p.name).sort()).toEqual(["fu-aws", "fu-aws-objects"]);
    const tagsOf = (name: string) => json(inputs(one(providers, "pulumi:providers:aws", name)).defaultTags).tags;
    // Everything else keeps every tag.
    expect(tagsOf("fu-aws")).toEqual({ ...many, deployment: "fu" });
    const objectTags = tagsOf("fu-aws-objects");
    expect(Object.keys(objectTags)).toHaveLength(S3_OBJECT_TAG_LIMIT);
    expect(objectTags).toEqual({ deployment: "fu", ...Object.fromEntries(Object.entries(many).slice(0, 9)) });

    const objects = ofType(recorded.resources, OBJECT);
    expect(objects).toHaveLength(3);
    for (const o of objects) {
      expect(o.provider, o.name).toMatch(/::fu-aws-objects::/);
      const effective = { ...objectTags, ...((inputs(o).tags as Record<string, string>) ?? {}) };
      expect(Object.keys(effective).length, o.name).toBeLessThanOrEqual(S3_OBJECT_TAG_LIMIT);
    }
    expect(warnings).toContainEqual(expect.stringMatching(/^stowrs-to-s3:tags: S3 objects take at most 10 tags; .* and not tag-09, tag-10, tag-11 /));
    // The objects still carry the deployment tag the policy pack requires.
    const violations = await evaluatePolicies(recorded.resources, policies, {});
    expect(violations.filter((v) => v.policy === "deployment-tag")).toEqual([]);
  });

  it("uses the stack's one provider while the tags fit", async () => {
    const nine = Object.fromEntries(Object.entries(many).slice(0, 9));
    const warnings: string[] = [];
    const recorded = await recordStack("test", configMap({ appName: "fu", tags: nine }), undefined, { warnings });
    expect(ofType(recorded.resources, "pulumi:providers:aws").map((p) => p.name)).toEqual(["fu-aws"]);
    expect(warnings.filter((w) => w.includes("tags"))).toEqual([]);
  });

  it("makes no object provider when the stack writes no objects", async () => {
    const recorded = await recordStack("test", configMap({ appName: "fu", tags: many, certificate: { mode: "FROMS3", authMode: "anonymous", source: "external", bucket: "site-tls" } }));
    expect(ofType(recorded.resources, "pulumi:providers:aws").map((p) => p.name)).toEqual(["fu-aws"]);
  });
});
