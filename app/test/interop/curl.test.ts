// The curl recipe in dcm-samples/README.md, run as written (only the service
// URL and the scratch path changed), so the documented command keeps working.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkStoredObjects, checkStowReply, type SentPart } from "../support/stow-check.js";
import { startS3rver, type S3rverHandle } from "../support/s3rver.js";
import { startServiceProcess, type ServiceHandle } from "../support/service.js";
import { loadSamples } from "../support/samples.js";

const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));

function readmeRecipe(): string {
  const readme = readFileSync(join(repoRoot, "dcm-samples/README.md"), "utf8");
  const section = readme.slice(readme.indexOf("## Send them to the service"));
  const recipe = /```sh\n([\s\S]*?)```/.exec(section)?.[1];
  if (!recipe) throw new Error("dcm-samples/README.md has no sh block under 'Send them to the service'");
  return recipe;
}

describe("curl recipe from dcm-samples/README.md", () => {
  let s3: S3rverHandle;
  let service: ServiceHandle;
  let samples: SentPart[];
  const scratch = mkdtempSync(join(tmpdir(), "curl-recipe-"));

  beforeAll(async () => {
    samples = loadSamples();
    s3 = await startS3rver();
    service = await startServiceProcess(s3.env);
  });

  afterAll(async () => {
    await service?.stop();
    await s3?.stop();
    rmSync(scratch, { recursive: true, force: true });
  });

  it("stores the three samples and gets a DICOM JSON answer naming them", async () => {
    const recipe = readmeRecipe();
    expect(recipe).toContain("http://localhost:8080/studies");
    expect(recipe).toContain("/tmp/stow-body");
    const script = recipe
      .replaceAll("http://localhost:8080", service.url)
      .replaceAll("/tmp/stow-body", join(scratch, "body"))
      .replace("curl -sS", `curl -sS -w '\\n%{http_code} %{content_type}'`);
    const out = execFileSync("bash", ["-euo", "pipefail", "-c", script], { cwd: repoRoot, encoding: "utf8" });
    const lines = out.trimEnd().split("\n");
    const [status, contentType] = lines.pop()!.split(" ");
    checkStowReply({ status: Number(status), contentType, text: lines.join("\n") }, samples, "curl recipe");
    await checkStoredObjects(s3.client, s3.bucket, samples);
  });
});
