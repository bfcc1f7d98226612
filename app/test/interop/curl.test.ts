// The curl commands the READMEs give, run as written (only the service URL and the scratch path
// changed), so the documented commands keep working: the multipart recipe in dcm-samples/README.md
// and the single-part command of the repository README's quick start.
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

/** The sh block under "Send them to the service" in dcm-samples/README.md that contains `marker`. */
function readmeRecipe(marker = "/tmp/stow-body"): string {
  const readme = readFileSync(join(repoRoot, "dcm-samples/README.md"), "utf8");
  const section = readme.slice(readme.indexOf("## Send them to the service"));
  const recipe = [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]).find((block) => block.includes(marker));
  if (!recipe) throw new Error(`dcm-samples/README.md has no sh block with ${marker} under 'Send them to the service'`);
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

/** The quick start's single-part command for ct-1.dcm, from the repository README. */
function quickStartSinglePart(): string {
  const readme = readFileSync(join(repoRoot, "README.md"), "utf8");
  const command = /^curl [^\n]*--data-binary @dcm-samples\/ct-1\.dcm[^\n]*$/m.exec(readme)?.[0];
  if (!command) throw new Error("README.md shows no `curl ... --data-binary @dcm-samples/ct-1.dcm ...` command");
  return command;
}

describe("single-part curl --data-binary from README.md's quick start", () => {
  let s3: S3rverHandle;
  let service: ServiceHandle;
  let samples: SentPart[];
  // A prefix of its own, so that only these requests can have put the objects there.
  const PREFIX = "single-part-curl";

  beforeAll(async () => {
    samples = loadSamples();
    s3 = await startS3rver();
    service = await startServiceProcess({ ...s3.env, PREFIX });
  });

  afterAll(async () => {
    await service?.stop();
    await s3?.stop();
  });

  const run = (command: string) => {
    const out = execFileSync("bash", ["-euo", "pipefail", "-c", command.replace(/^curl /, `curl -sS -w '\\n%{http_code} %{content_type}' `)], { cwd: repoRoot, encoding: "utf8" });
    const lines = out.trimEnd().split("\n");
    const [status, contentType] = lines.pop()!.split(" ");
    return { status: Number(status), contentType, text: lines.join("\n") };
  };

  it("stores each of the three samples with its own single-part POST", async () => {
    const command = quickStartSinglePart();
    expect(command).toContain("Content-Type: application/dicom");
    expect(command).toContain("http://localhost:8080/studies");
    for (const sample of samples) {
      const reply = run(command.replaceAll("http://localhost:8080", service.url).replace("ct-1.dcm", sample.label));
      checkStowReply(reply, [sample], `curl --data-binary @dcm-samples/${sample.label}`);
    }
    await checkStoredObjects(s3.client, s3.bucket, samples, PREFIX);
  });

  it("runs the one-request-per-sample loop of dcm-samples/README.md as written", async () => {
    const loop = readmeRecipe("--data-binary @");
    const out = execFileSync("bash", ["-euo", "pipefail", "-c", loop.replaceAll("http://localhost:8080", service.url).replace("curl -sS", "curl -sS -o /dev/null -w '%{http_code}\\n'")], {
      cwd: repoRoot,
      encoding: "utf8",
    });
    expect(out.trim().split("\n")).toEqual(["200", "200", "200"]);
    await checkStoredObjects(s3.client, s3.bucket, samples, PREFIX);
  });

  it("does the same with a chunked upload (curl -H 'Transfer-Encoding: chunked') to /studies/{StudyInstanceUID}", async () => {
    for (const sample of samples) {
      const expectation = sample.expect as { studyUid: string };
      const reply = run(
        `curl --data-binary @dcm-samples/${sample.label} -H 'Content-Type: application/dicom; transfer-syntax=1.2.840.10008.1.2.1' -H 'Transfer-Encoding: chunked' ${service.url}/studies/${expectation.studyUid}`,
      );
      checkStowReply(reply, [sample], `chunked curl of ${sample.label}`);
    }
  });
});
