// The infrastructure workflows cannot run here (no runner, no AWS, no Pulumi CLI), so
// their essentials are checked on the parsed YAML: what triggers them, that every stack
// is previewed with a PR comment, that AWS access is OIDC only, and that `pulumi up`
// waits for an approval.
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";

const REPO = path.resolve(__dirname, "..");
const WORKFLOWS = path.join(__dirname, "workflows");

type Step = { name?: string; uses?: string; run?: string; with?: Record<string, unknown>; env?: Record<string, string> };
type Job = {
  name?: string;
  needs?: string | string[];
  if?: string;
  environment?: string | { name: string };
  permissions?: Record<string, string>;
  strategy?: { matrix?: Record<string, unknown> };
  steps: Step[];
};
type Workflow = { on: Record<string, any>; permissions?: Record<string, string>; concurrency?: any; jobs: Record<string, Job> };

function load(file: string): Workflow {
  return parse(fs.readFileSync(path.join(WORKFLOWS, file), "utf8")) as Workflow;
}

const preview = load("infra-preview.yml");
const deploy = load("infra-deploy.yml");
const stackFiles = fs
  .readdirSync(REPO)
  .map((f) => /^Pulumi\.(.+)\.yaml$/.exec(f)?.[1])
  .filter((s): s is string => s !== undefined)
  .sort();

function pulumiSteps(job: Job): Step[] {
  return job.steps.filter((s) => s.uses?.startsWith("pulumi/actions@"));
}

function awsSteps(job: Job): Step[] {
  return job.steps.filter((s) => s.uses?.startsWith("aws-actions/configure-aws-credentials@"));
}

/** Effective permissions of a job: its own block replaces the workflow's. */
function permissionsOf(workflow: Workflow, job: Job): Record<string, string> {
  return job.permissions ?? workflow.permissions ?? {};
}

function environmentOf(job: Job): string | undefined {
  return typeof job.environment === "string" ? job.environment : job.environment?.name;
}

describe("workflow files", () => {
  it("parse, and the stack files they deploy exist", () => {
    expect(fs.readdirSync(WORKFLOWS).filter((f) => /\.ya?ml$/.test(f)).sort()).toEqual(
      expect.arrayContaining(["infra-deploy.yml", "infra-preview.yml"]),
    );
    expect(stackFiles).toEqual(expect.arrayContaining(["dev", "prod"]));
  });

  it("never hold static AWS keys and never run untrusted code with secrets", () => {
    for (const file of fs.readdirSync(WORKFLOWS).filter((f) => /\.ya?ml$/.test(f))) {
      const text = fs.readFileSync(path.join(WORKFLOWS, file), "utf8");
      expect(text, file).not.toMatch(/aws-access-key-id|aws-secret-access-key|AWS_ACCESS_KEY_ID|AWS_SECRET_ACCESS_KEY|AWS_SESSION_TOKEN/i);
      expect(text, file).not.toMatch(/AKIA[0-9A-Z]{16}/);
      expect(Object.keys(parse(text).on ?? {}), file).not.toContain("pull_request_target");
    }
  });
});

describe("pull request preview", () => {
  const job = preview.jobs.preview;

  it("runs on pull requests", () => {
    expect(preview.on).toHaveProperty("pull_request");
    expect(preview.on).not.toHaveProperty("push");
  });

  it("previews every stack file, one matrix entry each", () => {
    expect([...(job.strategy?.matrix?.stack as string[])].sort()).toEqual(stackFiles);
    const [step] = pulumiSteps(job);
    expect(step.with?.["stack-name"]).toMatch(/\$\{\{ *matrix\.stack *\}\}$/);
  });

  it("runs `pulumi preview --diff` and comments the result on the pull request", () => {
    const steps = pulumiSteps(job);
    expect(steps).toHaveLength(1);
    expect(steps[0].with).toMatchObject({ command: "preview", diff: true, "comment-on-pr": true });
    expect(steps[0].with?.["github-token"]).toMatch(/secrets\.GITHUB_TOKEN|github\.token/);
    expect(permissionsOf(preview, job)["pull-requests"]).toBe("write");
  });

  it("applies the policy pack with the stack's own pack configuration", () => {
    const [step] = pulumiSteps(job);
    expect(step.with?.policyPacks).toBe("stacks/policy");
    expect(step.with?.policyPackConfigs).toBe("stacks/policy/config/${{ matrix.stack }}.json");
    for (const stack of stackFiles) expect(fs.existsSync(path.join(REPO, "stacks/policy/config", `${stack}.json`)), stack).toBe(true);
  });

  it("gets AWS credentials by assuming a role through OIDC before Pulumi runs", () => {
    expect(permissionsOf(preview, job)["id-token"]).toBe("write");
    const aws = awsSteps(job);
    expect(aws).toHaveLength(1);
    expect(aws[0].with?.["role-to-assume"]).toMatch(/vars\./);
    expect(job.steps.indexOf(aws[0])).toBeLessThan(job.steps.indexOf(pulumiSteps(job)[0]));
  });

  it("checks the program offline first, and keeps fork pull requests away from the credentials", () => {
    const offline = preview.jobs.offline;
    expect(offline.steps.map((s) => s.run).filter(Boolean)).toEqual(
      expect.arrayContaining(["npx vitest run stacks .github", "npm run plan -- dev --policies", "npm run plan -- prod --policies"]),
    );
    expect(permissionsOf(preview, offline)["id-token"]).toBeUndefined();
    expect(job.needs).toBe("offline");
    expect(job.if).toContain("github.event.pull_request.head.repo.full_name == github.repository");
  });

  it("gives the workflow as a whole read-only permissions", () => {
    expect(preview.permissions).toEqual({ contents: "read" });
  });
});

describe("deployment on main", () => {
  it("runs on pushes to main only", () => {
    expect(deploy.on.push.branches).toEqual(["main"]);
    expect(deploy.on).not.toHaveProperty("pull_request");
  });

  it("runs `pulumi up` for dev and then prod", () => {
    const upStacks = Object.values(deploy.jobs).flatMap((job) =>
      pulumiSteps(job).map((s) => {
        expect(s.with?.command).toBe("up");
        return String(s.with?.["stack-name"]).split("/").pop();
      }),
    );
    expect(upStacks.sort()).toEqual(["dev", "prod"]);
    expect(deploy.jobs.prod.needs).toBe("dev");
  });

  it("puts every `pulumi up` behind an environment (required reviewers approve it)", () => {
    for (const [name, job] of Object.entries(deploy.jobs)) {
      if (pulumiSteps(job).length === 0) continue;
      expect(environmentOf(job), name).toBe(name);
    }
  });

  it("assumes the environment's deploy role through OIDC before each `pulumi up`", () => {
    for (const [name, job] of Object.entries(deploy.jobs)) {
      if (pulumiSteps(job).length === 0) continue;
      expect(permissionsOf(deploy, job)["id-token"], name).toBe("write");
      const [aws] = awsSteps(job);
      expect(aws?.with?.["role-to-assume"], name).toBe("${{ vars.AWS_DEPLOY_ROLE_ARN }}");
      expect(job.steps.indexOf(aws)).toBeLessThan(job.steps.indexOf(pulumiSteps(job)[0]));
    }
  });

  it("never cancels a deployment half-way", () => {
    expect(deploy.concurrency).toMatchObject({ "cancel-in-progress": false });
  });
});
