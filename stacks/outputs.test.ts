// The outputs operators and the deploy smoke read: region, the DICOM key, the task role, the
// images running, the server certificate's expiry, the load balancer's security group; and
// index.ts exporting every output createStack returns.
import * as fs from "node:fs";
import * as path from "node:path";
import { X509Certificate } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import * as os from "node:os";
import { makePki } from "../nginx/testing/pki";
import { recordStack } from "./offline/record";
import { configMap, inputs, one, recordWith } from "./testing/harness";

const ACM_ARN = "arn:aws:acm:eu-central-1:123456789012:certificate/0b1c2d3e-aaaa-bbbb-cccc-0123456789ab";
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "stacks-outputs-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe("stack outputs", () => {
  it("name the region, the DICOM key, the task role, the images and the load balancer's security group", async () => {
    const { outputs, resources } = await recordWith({ bucketEncryption: "SSE-KMS" });
    expect(outputs.region).toBe("eu-central-1");
    expect(outputs.kmsKeyArn).toBe(`arn:aws:kms:eu-central-1:123456789012:key/${one(resources, "aws:kms/key:Key").name}-key-id`);
    const taskDefinition = inputs(one(resources, "aws:ecs/taskDefinition:TaskDefinition"));
    expect(outputs.taskRoleArn).toBe("arn:aws:iam::123456789012:role/stowrs-test-task");
    expect(outputs.taskRoleArn).toBe(taskDefinition.taskRoleArn);
    const task = JSON.parse(taskDefinition.containerDefinitions);
    expect(outputs.images).toEqual({ app: task.find((c: any) => c.name === "app").image, nginx: task.find((c: any) => c.name === "nginx").image });
    expect(outputs.nlbSecurityGroupId).toBe(inputs(one(resources, "aws:lb/loadBalancer:LoadBalancer")).securityGroups[0]);
  });

  it("say when there is no key of the stack's own", async () => {
    const { outputs } = await recordWith({ bucketEncryption: "SSE-S3" });
    expect(outputs.kmsKeyArn).toBe("(none: SSE-S3)");
  });

  it("give the expiry of a generated certificate, of one from config, and none when the stack does not know it", async () => {
    const generated = await recordWith({});
    const cert = new X509Certificate(String(generated.outputs.serverCertificate));
    // The mocks give the generated certificate a fixed validity; the output is its end.
    expect(generated.outputs.serverCertificateNotAfter).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(Date.parse(String(generated.outputs.serverCertificateNotAfter))).toBe(Date.parse(cert.validTo));

    const pki = makePki(tmp);
    const fromConfig = await recordStack(
      "test",
      configMap({ certificate: { mode: "FROMS3", authMode: "anonymous", serverCertificate: pki.server.certPem, serverKey: pki.server.keyPem } }),
      undefined,
      { secretKeys: ["stowrs-to-s3:certificate"] },
    );
    expect(fromConfig.outputs.serverCertificateNotAfter).toBe(new Date(new X509Certificate(pki.server.certPem).validTo).toISOString());

    for (const certificate of [{ mode: "ACM", arn: ACM_ARN }, { mode: "FROMS3", source: "external", bucket: "site-tls" }]) {
      expect((await recordWith({ certificate })).outputs.serverCertificateNotAfter).toBe("(not known to the stack)");
    }
  });

  it("are all exported at the end of stacks/index.ts", async () => {
    const { outputs } = await recordWith({});
    const index = fs.readFileSync(path.join(__dirname, "index.ts"), "utf8");
    const exported = [...index.matchAll(/^export const (\w+) = outputs\.(\w+);$/gm)].map((m) => {
      expect(m[1]).toBe(m[2]);
      return m[1];
    });
    expect(exported.sort()).toEqual(Object.keys(outputs).sort());
  });
});
