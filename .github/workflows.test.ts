// The workflows cannot run here (no runner, no AWS, no Pulumi CLI), so they are checked as
// files: every workflow passes GitHub's own parser and the checks of workflow-checks.ts (each
// of which is shown failing on a small bad workflow below), and the three infrastructure
// workflows are read for what they promise: previews of every stack on pull requests, `pulumi
// up` of every stack on main behind its environment, a daily drift check, AWS through OIDC only.
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import {
  load,
  matrixProblems,
  npmCiProblems,
  parseProblems,
  pulumiTokenProblems,
  runExpressionProblems,
  runsPulumi,
  stepsOf,
  unpinnedActions,
  type Job,
  type Step,
  type Workflow,
  type WorkflowFile,
} from "./workflow-checks.js";

const REPO = path.resolve(__dirname, "..");
const WORKFLOWS = path.join(__dirname, "workflows");
const files: WorkflowFile[] = fs
  .readdirSync(WORKFLOWS)
  .filter((f) => /\.ya?ml$/.test(f))
  .sort()
  .map((name) => ({ name, text: fs.readFileSync(path.join(WORKFLOWS, name), "utf8") }));
const byName = (name: string) => load(files.find((f) => f.name === name)!);

const preview = byName("infra-preview.yml");
const deploy = byName("infra-deploy.yml");
const drift = byName("drift.yml");
const infra: [string, Workflow][] = [
  ["infra-preview.yml", preview],
  ["infra-deploy.yml", deploy],
  ["drift.yml", drift],
];

const SDK_VERSION: string = JSON.parse(fs.readFileSync(path.join(REPO, "stacks/package.json"), "utf8")).dependencies["@pulumi/pulumi"];

/** Steps that run a Pulumi command (the action without a command only installs the CLI). */
const pulumiSteps = (job: Job) => stepsOf(job).filter(runsPulumi);
const awsSteps = (job: Job) => stepsOf(job).filter((s) => s.uses?.startsWith("aws-actions/configure-aws-credentials@"));
const usesOf = (s: Step, action: string) => s.uses?.startsWith(`${action}@`) ?? false;
/** Effective permissions of a job: its own block replaces the workflow's. */
const permissionsOf = (workflow: Workflow, job: Job) => job.permissions ?? workflow.permissions ?? {};
const environmentOf = (job: Job) => (typeof job.environment === "string" ? job.environment : job.environment?.name);

describe("every workflow", () => {
  it("is there: the preview, deploy and drift workflows", () => {
    expect(files.map((f) => f.name)).toEqual(expect.arrayContaining(["drift.yml", "infra-deploy.yml", "infra-preview.yml"]));
  });

  it.each(files.map((f) => [f.name, f] as const))("%s: GitHub's workflow parser finds no error", async (_name, file) => {
    expect(await parseProblems(file)).toEqual([]);
  });

  it.each(files.map((f) => [f.name, f] as const))("%s: each action pinned to a commit, version beside it; the Pulumi token only where pulumi runs; no package scripts for pull requests; stack matrices; no expressions in scripts", (_name, file) => {
    expect(unpinnedActions(file)).toEqual([]);
    expect(pulumiTokenProblems(file)).toEqual([]);
    expect(npmCiProblems(file)).toEqual([]);
    expect(matrixProblems(file)).toEqual([]);
    expect(runExpressionProblems(file)).toEqual([]);
  });

  it("never holds static AWS keys and never runs on pull_request_target", () => {
    for (const file of files) {
      expect(file.text, file.name).not.toMatch(/aws-access-key-id|aws-secret-access-key|AWS_ACCESS_KEY_ID|AWS_SECRET_ACCESS_KEY|AWS_SESSION_TOKEN/i);
      expect(file.text, file.name).not.toMatch(/AKIA[0-9A-Z]{16}/);
      expect(Object.keys(load(file).on ?? {}), file.name).not.toContain("pull_request_target");
    }
  });

  it("leaves no token in the checkout for later steps, and runs Node 22, the images' runtime", () => {
    const base = /^FROM node:(\d+)-/m.exec(fs.readFileSync(path.join(REPO, "app/Dockerfile"), "utf8"))![1];
    for (const file of files) {
      for (const [jobId, job] of Object.entries(load(file).jobs)) {
        for (const step of stepsOf(job)) {
          if (usesOf(step, "actions/checkout")) expect(step.with?.["persist-credentials"], `${file.name} ${jobId}`).toBe(false);
          if (usesOf(step, "actions/setup-node")) expect(String(step.with?.["node-version"]), `${file.name} ${jobId}`).toBe(base);
        }
      }
    }
    expect(base).toBe("22");
  });
});

describe("the checks fail on bad workflows", () => {
  const wf = (text: string, name = "bad.yml"): WorkflowFile => ({ name, text });
  const job = (steps: string, extra = "") => `on: push\njobs:\n  a:\n    runs-on: ubuntu-24.04\n${extra}    steps:\n${steps}`;
  const SHA = "3d3c42e5aac5ba805825da76410c181273ba90b1";

  it("parser: schema, expression, job graph and cron errors, with line numbers", async () => {
    expect(await parseProblems(wf(job("      - run: echo ${{ matrix.x }\n")))).toEqual([expect.stringMatching(/^bad\.yml \(Line: 6, .*expression is not closed/)]);
    expect(await parseProblems(wf("on: pushh\njobs:\n  a:\n    runs-on: x\n    stepz: []\n"))).toEqual([expect.stringContaining("Unexpected value 'pushh'"), expect.stringContaining("Unexpected value 'stepz'")]);
    expect(await parseProblems(wf(job("      - run: echo\n", "    needs: nobody\n")))).toEqual([expect.stringContaining("at least one job with no dependencies")]);
    expect(await parseProblems(wf("on:\n  schedule:\n    - cron: '61 * * * *'\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: echo\n"))).toEqual([expect.stringContaining("Invalid cron expression")]);
    expect(await parseProblems(wf(job("      - run: echo\n", "    permissions:\n      issues: writ\n")))).toEqual([expect.stringContaining("Unexpected value 'writ'")]);
  });

  it("pins: a tag, a short SHA, a missing version comment, an unpinned container, a flow mapping", () => {
    const text = job(
      [
        "      - uses: actions/checkout@v4",
        `      - uses: actions/checkout@${SHA.slice(0, 7)} # v7.0.1`,
        `      - uses: actions/checkout@${SHA}`,
        `      - uses: actions/checkout@${SHA} # pinned`,
        "      - uses: docker://alpine:3",
        `      - uses: actions/checkout@${SHA} # v7.0.1`,
        "      - uses: ./local-action",
        "      - { uses: actions/cache@v5 }",
        "",
      ].join("\n"),
    );
    expect(unpinnedActions(wf(text))).toEqual([
      "bad.yml:6: actions/checkout is not pinned to a full commit SHA (v4)",
      "bad.yml:7: actions/checkout is not pinned to a full commit SHA (3d3c42e)",
      `bad.yml:8: actions/checkout@${SHA} has no version comment beside it (# vX.Y.Z)`,
      `bad.yml:9: actions/checkout@${SHA} has no version comment beside it (# vX.Y.Z)`,
      "bad.yml:10: docker://alpine:3 is not pinned by digest",
      'bad.yml: 8 uses: entries, 7 of them written one a line as "uses: <ref> # <version>"',
    ]);
  });

  it("Pulumi token: at workflow or job level, in a step without pulumi, beside npm, or named elsewhere", () => {
    const token = "PULUMI_ACCESS_TOKEN: ${{ secrets.PULUMI_ACCESS_TOKEN }}";
    expect(pulumiTokenProblems(wf(`env:\n  ${token}\n${job("      - run: pulumi preview\n")}`))).toEqual([expect.stringContaining("in the workflow's env")]);
    expect(pulumiTokenProblems(wf(job("      - run: pulumi preview\n", `    env:\n      ${token}\n`)))).toEqual([expect.stringContaining("job a: PULUMI_ACCESS_TOKEN in the job's env")]);
    expect(pulumiTokenProblems(wf(job(`      - name: install\n        run: npm ci\n        env:\n          ${token}\n`)))).toEqual(["bad.yml: a, step 1 (install): has PULUMI_ACCESS_TOKEN but runs no pulumi command"]);
    expect(pulumiTokenProblems(wf(job(`      - run: |\n          npm run -s image-tags\n          pulumi config set x y\n        env:\n          ${token}\n`)))).toEqual([
      expect.stringContaining("also runs npm, npx or node"),
    ]);
    expect(pulumiTokenProblems(wf(job(`      - uses: pulumi/actions@${SHA} # v7.0.0\n        env:\n          ${token}\n`)))).toEqual([expect.stringContaining("runs no pulumi command")]);
    expect(pulumiTokenProblems(wf(job(`      - uses: pulumi/actions@${SHA} # v7.0.0\n        with:\n          command: up\n          token: \${{ secrets.PULUMI_ACCESS_TOKEN }}\n        env:\n          ${token}\n`)))).toEqual([
      "bad.yml: secrets.PULUMI_ACCESS_TOKEN is named 2 times, 1 of them in the env of a step that runs pulumi",
    ]);
    expect(pulumiTokenProblems(wf(job(`      - uses: pulumi/actions@${SHA} # v7.0.0\n        with:\n          command: up\n        env:\n          ${token}\n`)))).toEqual([]);
  });

  it("npm ci with package scripts in a pull request's workflow (and only there, and unless allowed by step name)", () => {
    const text = job("      - name: deps\n        run: npm ci --no-audit\n      - run: cd x && npm install\n      - run: npm ci --ignore-scripts\n").replace("on: push", "on: pull_request");
    expect(npmCiProblems(wf(text))).toEqual([
      'bad.yml: a, step 1 (deps): "npm ci --no-audit" runs the pull request\'s package scripts; add --ignore-scripts',
      'bad.yml: a, step 2: "cd x && npm install" runs the pull request\'s package scripts; add --ignore-scripts',
    ]);
    expect(npmCiProblems(wf(text), ["deps"])).toHaveLength(1);
    expect(npmCiProblems(wf(text.replace("on: pull_request", "on: push")))).toEqual([]);
  });

  it("matrices: a list written in the workflow, a matrix without the stacks job, a missing empty-list guard", () => {
    const listJob = "  stacks:\n    runs-on: x\n    outputs:\n      stacks: ${{ steps.list.outputs.stacks }}\n    steps:\n      - id: list\n        run: echo \"stacks=$(npm run -s stacks -- --json)\" >> \"$GITHUB_OUTPUT\"\n";
    const matrixJob = (matrix: string, extra = "") => `  p:\n    runs-on: x\n${extra}    strategy:\n      matrix:\n        ${matrix}\n    steps:\n      - run: echo\n`;
    const good = "stack: ${{ fromJSON(needs.stacks.outputs.stacks) }}";
    const guard = "    needs: stacks\n    if: needs.stacks.outputs.stacks != '[]'\n";
    expect(matrixProblems(wf(`on: push\njobs:\n${listJob}${matrixJob(good, guard)}`))).toEqual([]);
    expect(matrixProblems(wf(`on: push\njobs:\n${listJob}${matrixJob("stack: [dev, prod]", guard)}`))).toEqual([expect.stringContaining('job p: its matrix must be { stack: ${{ fromJSON(needs.stacks.outputs.stacks) }} }, got {"stack":["dev","prod"]}')]);
    expect(matrixProblems(wf(`on: push\njobs:\n${matrixJob(good, guard)}`))).toEqual([expect.stringContaining('no job "stacks"')]);
    expect(matrixProblems(wf(`on: push\njobs:\n${listJob}${matrixJob(good)}`))).toEqual([
      "bad.yml: job p: needs the stacks job",
      "bad.yml: job p: runs without stacks (add if: needs.stacks.outputs.stacks != '[]')",
    ]);
  });

  it("expressions inside run: scripts", () => {
    expect(runExpressionProblems(wf(job('      - run: npm run rehearse -- "${{ matrix.stack }}"\n')))).toEqual([
      "bad.yml: a, step 1: ${{ matrix.stack }} inside run:; pass it through the step's env",
    ]);
  });
});

describe("Pulumi CLI and plugins", () => {
  it.each(infra)("%s pins the CLI to the SDK's version, installed by pulumi/actions", (_file, workflow) => {
    expect(workflow.env?.PULUMI_VERSION).toBe(SDK_VERSION);
    const steps = Object.values(workflow.jobs).flatMap((job) => stepsOf(job).filter((s) => usesOf(s, "pulumi/actions")));
    expect(steps.length).toBeGreaterThan(0);
    for (const step of steps) expect(step.with?.["pulumi-version"]).toBe("${{ env.PULUMI_VERSION }}");
  });

  it.each(infra)("%s restores the plugin cache and installs the CLI before pulumi runs, keyed by CLI version and lockfile", (_file, workflow) => {
    for (const [name, job] of Object.entries(workflow.jobs)) {
      const steps = stepsOf(job);
      const first = steps.findIndex(runsPulumi);
      if (first < 0) continue;
      const cache = steps.findIndex((s) => usesOf(s, "actions/cache") && s.with?.path === "~/.pulumi/plugins");
      const install = steps.findIndex((s) => usesOf(s, "pulumi/actions") && s.with?.command === undefined);
      expect(cache, `${name}: plugin cache`).toBeGreaterThanOrEqual(0);
      expect(cache, name).toBeLessThan(install);
      expect(install, name).toBeLessThan(first);
      expect(String(steps[cache].with?.key)).toMatch(/PULUMI_VERSION.*hashFiles\('package-lock\.json'\)/);
    }
  });

  it.each(infra)("%s assumes a role through OIDC (a variable of the job's environment) before pulumi runs", (_file, workflow) => {
    for (const [name, job] of Object.entries(workflow.jobs)) {
      const first = stepsOf(job).findIndex(runsPulumi);
      if (first < 0) continue;
      expect(permissionsOf(workflow, job)["id-token"], name).toBe("write");
      const [aws] = awsSteps(job);
      expect(aws?.with?.["role-to-assume"], name).toMatch(/^\$\{\{ vars\.AWS_(PREVIEW|DEPLOY)_ROLE_ARN \}\}$/);
      expect(environmentOf(job), name).toBeDefined();
      expect(stepsOf(job).indexOf(aws)).toBeLessThan(first);
    }
  });
});

describe("images", () => {
  const tagged = (job: Job) => stepsOf(job).find((s) => (s.run ?? "").includes("npm run -s image-tags"));

  it("are never built for a preview: each stack is previewed with the images named by their content tags", () => {
    const job = preview.jobs.preview;
    for (const s of Object.values(preview.jobs).flatMap(stepsOf)) {
      expect(s.run ?? "", "no docker build in previews").not.toMatch(/docker (buildx )?build/);
      expect(s.uses ?? "").not.toMatch(/^docker\/build-push-action/);
    }
    const step = tagged(job)!;
    expect(step.id).toBe("images");
    const set = stepsOf(job).find((s) => (s.run ?? "").includes("stowrs-to-s3:images.app"))!;
    expect(set.env).toMatchObject({ APP_IMAGE: "${{ vars.IMAGE_REPOSITORY_APP }}:${{ steps.images.outputs.app }}", NGINX_IMAGE: "${{ vars.IMAGE_REPOSITORY_NGINX }}:${{ steps.images.outputs.nginx }}" });
    const steps = stepsOf(job);
    expect(steps.indexOf(step)).toBeLessThan(steps.indexOf(set));
    expect(steps.indexOf(set)).toBeLessThan(steps.findIndex((s) => usesOf(s, "pulumi/actions") && s.with?.command === "preview"));
  });

  it("are built once on main, only when no image with their content tag exists, and the same ones go to every stack", () => {
    const job = deploy.jobs.images;
    const script = tagged(job)?.run ?? "";
    expect(script.indexOf("describe-images")).toBeGreaterThan(0);
    expect(script.indexOf("describe-images")).toBeLessThan(script.indexOf("docker buildx build"));
    expect(pulumiSteps(job)).toEqual([]);
    expect(environmentOf(job)).toBe("images");
    const up = deploy.jobs.deploy;
    expect([up.needs].flat()).toContain("images");
    const set = stepsOf(up).find((s) => (s.run ?? "").includes("stowrs-to-s3:images.app"))!;
    expect(set.env).toMatchObject({ APP_IMAGE: "${{ needs.images.outputs.app }}", NGINX_IMAGE: "${{ needs.images.outputs.nginx }}" });
    expect(stepsOf(up).indexOf(set)).toBeLessThan(stepsOf(up).findIndex((s) => s.with?.command === "up"));
  });
});

describe("pull request preview", () => {
  const job = preview.jobs.preview;

  it("runs on pull requests only", () => {
    expect(preview.on).toHaveProperty("pull_request");
    expect(preview.on).not.toHaveProperty("push");
  });

  it("previews every stack (one job each, in the stack's preview environment) and comments the result on the pull request", () => {
    expect(job.environment).toEqual({ name: "${{ matrix.stack }}-preview", deployment: false });
    const steps = stepsOf(job).filter((s) => usesOf(s, "pulumi/actions") && s.with?.command !== undefined);
    expect(steps).toHaveLength(1);
    expect(steps[0].with).toMatchObject({ command: "preview", diff: true, "comment-on-pr": true, "stack-name": "${{ vars.PULUMI_ORG }}/${{ matrix.stack }}" });
    expect(steps[0].with?.["github-token"]).toMatch(/secrets\.GITHUB_TOKEN|github\.token/);
    expect(permissionsOf(preview, job)["pull-requests"]).toBe("write");
  });

  it("applies the policy pack, with the stack's own pack configuration where it has one", () => {
    const steps = stepsOf(job);
    const config = steps.find((s) => s.id === "policy")!;
    expect(config.run).toContain('file="stacks/policy/config/$STACK.json"');
    expect(config.run).toMatch(/if \[ -f "\$file" \]; then echo "config=\$file" >> "\$GITHUB_OUTPUT"; fi/);
    const [step] = steps.filter((s) => s.with?.command === "preview");
    expect(step.with).toMatchObject({ policyPacks: "stacks/policy", policyPackConfigs: "${{ steps.policy.outputs.config }}" });
    expect(steps.indexOf(config)).toBeLessThan(steps.indexOf(step));
  });

  it("plans and rehearses every stack offline first, with the repository's client certificate when it has one", () => {
    expect(stepsOf(preview.jobs.offline).map((s) => s.run)).toContain("npx vitest run stacks .github");
    const rehearse = preview.jobs.rehearse;
    expect(rehearse.strategy?.matrix).toEqual({ stack: "${{ fromJSON(needs.stacks.outputs.stacks) }}" });
    const runs = stepsOf(rehearse).map((s) => s.run ?? "");
    expect(runs).toContain('npm run plan -- "$STACK" --policies');
    const step = stepsOf(rehearse).find((s) => (s.run ?? "").includes('npm run rehearse -- "$STACK"'))!;
    expect(step.env).toEqual({ STACK: "${{ matrix.stack }}", REHEARSE_CLIENT_CERT: "${{ secrets.REHEARSE_CLIENT_CERT }}", REHEARSE_CLIENT_KEY: "${{ secrets.REHEARSE_CLIENT_KEY }}" });
    expect(step.run).toContain("unset REHEARSE_CLIENT_CERT REHEARSE_CLIENT_KEY");
    expect([job.needs].flat()).toEqual(expect.arrayContaining(["offline", "rehearse"]));
  });

  it("keeps fork pull requests and the offline jobs away from the credentials", () => {
    for (const name of ["stacks", "offline", "rehearse"]) expect(permissionsOf(preview, preview.jobs[name])["id-token"], name).toBeUndefined();
    expect(job.if).toContain("github.event.pull_request.head.repo.full_name == github.repository");
    expect(preview.permissions).toEqual({ contents: "read" });
  });
});

describe("deployment on main", () => {
  const job = deploy.jobs.deploy;

  it("runs on pushes to main only", () => {
    expect((deploy.on as any).push.branches).toEqual(["main"]);
    expect(deploy.on).not.toHaveProperty("pull_request");
  });

  it("runs `pulumi up` for every stack, each in the environment named like the stack (its reviewers approve it)", () => {
    expect(environmentOf(job)).toBe("${{ matrix.stack }}");
    const ups = Object.values(deploy.jobs).flatMap((j) => stepsOf(j).filter((s) => usesOf(s, "pulumi/actions") && s.with?.command !== undefined));
    expect(ups).toHaveLength(1);
    expect(ups[0].with).toMatchObject({ command: "up", "stack-name": "${{ vars.PULUMI_ORG }}/${{ matrix.stack }}", policyPacks: "stacks/policy", policyPackConfigs: "${{ steps.policy.outputs.config }}" });
    expect(job.strategy?.matrix).toEqual({ stack: "${{ fromJSON(needs.stacks.outputs.stacks) }}" });
  });

  it("runs the smoke test script after `pulumi up`, with the stack's outputs and its client certificate secrets", () => {
    const steps = stepsOf(job);
    const up = steps.findIndex((s) => s.with?.command === "up");
    const outputs = steps.findIndex((s) => /pulumi stack output --json --stack "\$STACK" > "\$RUNNER_TEMP\/stack-outputs\.json"/.test(s.run ?? ""));
    const smoke = steps.findIndex((s) => /^\s*npm run deploy-smoke -- "\$STACK" "\$\{args\[@\]\}"$/m.test(s.run ?? "") && /--outputs "\$STACK_OUTPUTS"/.test(s.run ?? ""));
    expect(up).toBeGreaterThan(0);
    expect(outputs).toBeGreaterThan(up);
    expect(smoke).toBeGreaterThan(outputs);
    expect(steps[smoke].env).toEqual({
      STACK: "${{ vars.PULUMI_ORG }}/${{ matrix.stack }}",
      STACK_OUTPUTS: "${{ runner.temp }}/stack-outputs.json",
      SMOKE_CLIENT_CERT: "${{ secrets.SMOKE_CLIENT_CERT }}",
      SMOKE_CLIENT_KEY: "${{ secrets.SMOKE_CLIENT_KEY }}",
    });
  });

  it("never cancels a deployment half-way", () => {
    expect(deploy.concurrency).toMatchObject({ "cancel-in-progress": false });
  });
});

describe("drift check", () => {
  const job = drift.jobs.refresh;

  it("runs every day and on demand, with no permission unless a job asks for it", () => {
    expect(drift.on).toMatchObject({ schedule: [{ cron: expect.any(String) }], workflow_dispatch: null });
    expect(drift.permissions).toEqual({});
  });

  it("runs `pulumi refresh --preview-only --expect-no-changes` for every stack, as its read-only preview role", () => {
    expect(job.environment).toEqual({ name: "${{ matrix.stack }}-preview", deployment: false });
    expect(awsSteps(job)[0].with?.["role-to-assume"]).toBe("${{ vars.AWS_PREVIEW_ROLE_ARN }}");
    const [refresh] = pulumiSteps(job);
    expect(refresh.run).toMatch(/pulumi refresh --preview-only --expect-no-changes --json .*--stack "\$STACK" > "\$RUNNER_TEMP\/refresh\.json" \|\| status=\$\?/);
    expect(refresh.env?.STACK).toBe("${{ vars.PULUMI_ORG }}/${{ matrix.stack }}");
    // Nothing in this workflow may write the state.
    expect(files.find((f) => f.name === "drift.yml")!.text).not.toMatch(/command: (up|refresh|destroy)|pulumi (up|destroy)\b|pulumi refresh (?!--preview-only)/);
    const report = stepsOf(job).find((s) => (s.run ?? "").startsWith("node --import tsx stacks/drift-report.ts"))!;
    expect(report.env).toEqual({ STACK: "${{ matrix.stack }}", PULUMI_STATUS: "${{ steps.refresh.outputs.status }}" });
  });

  it("opens, updates or closes one issue per stack, from a job that alone may write issues and runs no repository code", () => {
    const issues = drift.jobs.issues;
    expect(permissionsOf(drift, issues)).toEqual({ issues: "write" });
    for (const [name, other] of Object.entries(drift.jobs)) if (name !== "issues") expect(permissionsOf(drift, other).issues, name).toBeUndefined();
    expect(stepsOf(issues).some((s) => usesOf(s, "actions/checkout") || /\bnpm|\bnode\b|\bnpx\b/.test(s.run ?? ""))).toBe(false);
    const script = stepsOf(issues).find((s) => (s.run ?? "").includes("gh issue"))!.run!;
    expect(script).toContain('title="Drift: stack $stack"');
    expect(script).toContain('gh issue edit "$number" --body-file "drift/$stack.md"');
    expect(script).toContain('gh issue create --title "$title" --label drift --body-file "drift/$stack.md"');
    expect(script).toContain('gh issue close "$number"');
    expect(issues.if).toContain("always()");
  });
});
