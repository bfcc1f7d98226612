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

type Step = { id?: string; name?: string; uses?: string; run?: string; with?: Record<string, unknown>; env?: Record<string, string> };
type Job = {
  name?: string;
  needs?: string | string[];
  if?: string;
  environment?: string | { name: string };
  permissions?: Record<string, string>;
  strategy?: { matrix?: Record<string, unknown> };
  steps: Step[];
};
type Workflow = {
  on: Record<string, any>;
  permissions?: Record<string, string>;
  concurrency?: any;
  env?: Record<string, string>;
  jobs: Record<string, Job>;
};

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

/** Steps that run a Pulumi command (the action without a command only installs the CLI). */
function pulumiSteps(job: Job): Step[] {
  return job.steps.filter((s) => s.uses?.startsWith("pulumi/actions@") && s.with?.command !== undefined);
}

function allPulumiActionSteps(workflow: Workflow): Step[] {
  return Object.values(workflow.jobs).flatMap((job) => job.steps.filter((s) => s.uses?.startsWith("pulumi/actions@")));
}

/** The step index of the first step that uses the Pulumi CLI (the action or `pulumi ...` in a script). */
function firstPulumiUse(job: Job): number {
  return job.steps.findIndex((s) => s.uses?.startsWith("pulumi/actions@") || /(^|\n)\s*pulumi /.test(s.run ?? ""));
}

const SDK_VERSION: string = JSON.parse(fs.readFileSync(path.join(REPO, "stacks/package.json"), "utf8")).dependencies["@pulumi/pulumi"];

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

describe("Pulumi CLI and plugins", () => {
  it.each([["infra-preview.yml", preview], ["infra-deploy.yml", deploy]] as const)("%s pins the CLI to the SDK's version and uses the current pulumi/actions major", (_file, workflow) => {
    expect(workflow.env?.PULUMI_VERSION).toBe(SDK_VERSION);
    const steps = allPulumiActionSteps(workflow);
    expect(steps.length).toBeGreaterThan(0);
    for (const step of steps) {
      expect(step.uses).toBe("pulumi/actions@v7");
      expect(step.with?.["pulumi-version"]).toBe("${{ env.PULUMI_VERSION }}");
    }
  });

  it.each([["infra-preview.yml", preview], ["infra-deploy.yml", deploy]] as const)("%s restores the plugin cache before Pulumi runs, keyed by CLI version and lockfile", (_file, workflow) => {
    for (const [name, job] of Object.entries(workflow.jobs)) {
      const first = firstPulumiUse(job);
      if (first < 0) continue;
      const cache = job.steps.findIndex((s) => s.uses?.startsWith("actions/cache@") && s.with?.path === "~/.pulumi/plugins");
      expect(cache, `${name}: plugin cache`).toBeGreaterThanOrEqual(0);
      expect(cache, name).toBeLessThan(first);
      expect(String(job.steps[cache].with?.key)).toMatch(/PULUMI_VERSION.*hashFiles\('package-lock\.json'\)/);
    }
  });
});

describe("images", () => {
  const tagged = (job: Job) => job.steps.find((s) => (s.run ?? "").includes("npm run -s image-tags"));

  it("are never built for a preview: each stack is previewed with the images named by their content tags", () => {
    const job = preview.jobs.preview;
    for (const s of Object.values(preview.jobs).flatMap((j) => j.steps)) {
      expect(s.run ?? "", "no docker build in previews").not.toMatch(/docker (buildx )?build/);
      expect(s.uses ?? "").not.toMatch(/^docker\/build-push-action/);
    }
    const step = tagged(job);
    expect(step, "image tags from the build contexts").toBeDefined();
    expect(step!.run).toMatch(/stowrs-to-s3:images\.app/);
    expect(step!.run).toMatch(/stowrs-to-s3:images\.nginx/);
    expect(job.steps.indexOf(step!)).toBeLessThan(job.steps.indexOf(pulumiSteps(job)[0]));
  });

  it("are built once on main, only when no image with their content tag exists, and promoted unchanged to dev and prod", () => {
    const job = deploy.jobs.images;
    const script = tagged(job)?.run ?? "";
    expect(script.indexOf("describe-images")).toBeGreaterThan(0);
    expect(script.indexOf("describe-images")).toBeLessThan(script.indexOf("docker buildx build"));
    expect(pulumiSteps(job)).toEqual([]);
    for (const stack of ["dev", "prod"]) {
      const up = deploy.jobs[stack];
      expect([up.needs].flat()).toContain("images");
      const set = up.steps.find((s) => (s.run ?? "").includes("stowrs-to-s3:images.app"));
      expect(set?.run).toContain("${{ needs.images.outputs.app }}");
      expect(set?.run).toContain("${{ needs.images.outputs.nginx }}");
      expect(up.steps.indexOf(set!)).toBeLessThan(up.steps.indexOf(pulumiSteps(up)[0]));
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
      expect.arrayContaining([
        "npx vitest run stacks .github",
        "npm run plan -- dev --policies",
        "npm run plan -- prod --policies",
        ...stackFiles.map((s) => `npm run rehearse -- ${s}`),
      ]),
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
    expect([deploy.jobs.prod.needs].flat()).toContain("dev");
  });

  it("runs the smoke test against each deployed stack after its `pulumi up` (letting the runner in for it), with a client certificate for prod", () => {
    for (const stack of ["dev", "prod"]) {
      const job = deploy.jobs[stack];
      const smoke = job.steps.findIndex((s) => new RegExp(`npm run deploy-smoke -- "\\$\\{\\{ vars\\.PULUMI_ORG \\}\\}/${stack}"`).test(s.run ?? ""));
      expect(smoke, `${stack}: smoke step`).toBeGreaterThan(job.steps.indexOf(pulumiSteps(job)[0]));
    }
    const prodSmoke = deploy.jobs.prod.steps.find((s) => (s.run ?? "").includes("npm run deploy-smoke"))!;
    expect(prodSmoke.run).toMatch(/--client-cert \S+ --client-key \S+/);
    expect(prodSmoke.env).toMatchObject({ SMOKE_CLIENT_CERT: "${{ secrets.SMOKE_CLIENT_CERT }}", SMOKE_CLIENT_KEY: "${{ secrets.SMOKE_CLIENT_KEY }}" });
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
