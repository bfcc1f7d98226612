import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { makePki } from "../nginx/testing/pki";
import { ConfigError } from "./config";
import { recordStack } from "./offline/record";
import { configMap } from "./testing/harness";
import { worldIngressProblem } from "./world-ingress";

const world = { allowedPeers: ["198.18.0.0/15", "0.0.0.0/0"] };
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "stacks-world-"));
const pki = makePki(dir);
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe("allowedPeers open to the world without authentication", () => {
  it("is a problem only with 0.0.0.0/0 and authMode anonymous", () => {
    expect(worldIngressProblem({ ...world, certificate: { authMode: "anonymous" }, allowWorldIngress: false })).toMatch(
      /^stowrs-to-s3:allowedPeers: 0\.0\.0\.0\/0 with certificate\.authMode anonymous lets anyone on the internet store/,
    );
    for (const authMode of ["clientauth", "oidc", "clientauth+oidc"] as const) {
      expect(worldIngressProblem({ ...world, certificate: { authMode }, allowWorldIngress: false })).toBeUndefined();
    }
    expect(worldIngressProblem({ allowedPeers: ["198.18.0.0/15"], certificate: { authMode: "anonymous" }, allowWorldIngress: false })).toBeUndefined();
  });

  it("is warned about in a preview (the offline plan too) and refused by an update", async () => {
    const config = configMap(world);
    const preview: string[] = [];
    await recordStack("qa", config, undefined, { dryRun: true, warnings: preview });
    expect(preview).toEqual([expect.stringMatching(/^stowrs-to-s3:allowedPeers: 0\.0\.0\.0\/0 with .* \(pulumi up refuses it\)$/)]);
    const update = recordStack("qa", config, undefined, { dryRun: false });
    await expect(update).rejects.toBeInstanceOf(ConfigError);
    await expect(recordStack("qa", config, undefined, { dryRun: false })).rejects.toThrow(/set stowrs-to-s3:allowWorldIngress true if that is really meant/);
  });

  it("goes through when allowWorldIngress says it is meant, or when senders must authenticate", async () => {
    await expect(recordStack("qa", configMap({ ...world, allowWorldIngress: true }), undefined, { dryRun: false, warnings: [] })).resolves.toBeDefined();
    const clientauth = configMap({ ...world, certificate: { mode: "FROMS3", authMode: "clientauth", truststore: pki.ca.certPem } });
    await expect(recordStack("qa", clientauth, undefined, { dryRun: false, warnings: [] })).resolves.toBeDefined();
  });
});
