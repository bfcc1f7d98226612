import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { makePki } from "../../nginx/testing/pki";
import { recordStack, recordStackFile } from "../offline/record";
import { listStacks, readStackFile } from "../offline/stack-file";
import { CLIENTAUTH, variant, withOwnCertificates } from "../testing/fixtures";
import { configMap } from "../testing/harness";
import { evaluatePolicies, POLICY_CONFIG_DIR, policyConfigFor } from "./evaluate";
import { policies } from "./rules";

const REPO = path.resolve(__dirname, "..", "..");
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "policy-evaluate-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe("policies over the recorded graph of every stack file", () => {
  it.each(listStacks(REPO))("%s passes every policy with its pack configuration", async (stack) => {
    const file = readStackFile(stack, REPO);
    const { resources } = await recordStackFile(file);
    expect(await evaluatePolicies(resources, policies, policyConfigFor(stack))).toEqual([]);
  });

  it("a stack file with its server key stored encrypted passes too, the key opaque to every rule", async () => {
    const pki = makePki(fs.mkdtempSync(path.join(tmp, "pki-")));
    const file = readStackFile(variant(tmp, CLIENTAUTH, "prod", (doc) => withOwnCertificates(doc, pki, { passphrase: "p" })), REPO);
    const { resources } = await recordStackFile(file);
    const key = resources.find((r) => r.name === "fixture-mtls-certificate-key");
    expect(key?.inputs.content).toBe("[secret]");
    expect(await evaluatePolicies(resources, policies, policyConfigFor("prod"))).toEqual([]);
  });

  it("uses a stack's pack configuration when stacks/policy/config/<stack>.json exists, the defaults otherwise", () => {
    for (const f of fs.readdirSync(POLICY_CONFIG_DIR).filter((n) => n.endsWith(".json"))) {
      expect(policyConfigFor(f.slice(0, -".json".length))).toEqual(JSON.parse(fs.readFileSync(path.join(POLICY_CONFIG_DIR, f), "utf8")));
    }
    expect(policyConfigFor("no-such-stack-0x5f")).toEqual({});
  });
});

describe("evaluatePolicies", () => {
  it("blocks world-open ingress in prod but only warns elsewhere", async () => {
    const { resources } = await recordStack("test", configMap({ allowedPeers: ["0.0.0.0/0"] }));
    const prod = await evaluatePolicies(resources, policies, policyConfigFor("prod"));
    expect(prod).toEqual([
      {
        policy: "no-world-ingress",
        enforcementLevel: "mandatory",
        message: "ingress rule admits 0.0.0.0/0 on port 443",
        resource: "stowrs-test-peer-0-0-0-0-0",
      },
    ]);
    const dev = await evaluatePolicies(resources, policies, policyConfigFor("dev"));
    expect(dev.map((v) => v.enforcementLevel)).toEqual(["advisory"]);
  });

  it("sees a bucket that lost its settings in the recorded graph", async () => {
    const { resources } = await recordStack("test", configMap());
    const stripped = resources.filter((r) => r.name !== "stowrs-test-dicom-encryption" && r.name !== "stowrs-test-dicom-public-access");
    const found = await evaluatePolicies(stripped, policies, {});
    expect(found.map((v) => [v.policy, v.resource])).toEqual([
      ["s3-buckets-encrypted", "stowrs-test-dicom"],
      ["s3-no-public-access", "stowrs-test-dicom"],
    ]);
  });

  it("sees resources that bypass the tagged provider", async () => {
    const { resources } = await recordStack("test", configMap());
    const untagged = resources.map((r) => (r.name === "stowrs-test-vpc" && r.type === "aws:ec2/vpc:Vpc" ? { ...r, provider: "" } : r));
    const found = await evaluatePolicies(untagged, policies, {});
    expect(found.map((v) => [v.policy, v.resource])).toEqual([["deployment-tag", "stowrs-test-vpc"]]);
  });

  it("skips disabled policies", async () => {
    const { resources } = await recordStack("test", configMap({ allowedPeers: ["0.0.0.0/0"] }));
    expect(await evaluatePolicies(resources, policies, { "no-world-ingress": "disabled" })).toEqual([]);
  });
});
