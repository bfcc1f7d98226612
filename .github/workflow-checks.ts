// Checks every workflow must pass, each a function from one workflow file to the problems it
// finds (empty: none), so .github/workflows.test.ts can run them on the real workflows and on
// small bad ones written in the test, proving each check can fail.
//
// - parseProblems: GitHub's own workflow parser (@actions/workflow-parser, the parser of the
//   Actions language services) finds no error: schema, expressions, job graph, cron syntax.
// - unpinnedActions: every `uses:` names a full 40-hex commit SHA and says its version in a
//   comment beside it (`@<sha> # v7.0.1`); a tag can be moved under us, a commit cannot.
// - pulumiTokenProblems: PULUMI_ACCESS_TOKEN only in the env of steps that run pulumi, never
//   at workflow or job level and never in a step that also runs npm, npx or node (the
//   repository's package scripts and code: a pull request's, in the preview workflow).
// - npmCiProblems: in workflows a pull request triggers, `npm ci` / `npm install` run no
//   package scripts (--ignore-scripts) unless the step is named in `allow`.
// - matrixProblems: job matrices are the stack list of the `stacks` job (`npm run -s stacks`),
//   so a stack file is all a new environment needs.
// - runExpressionProblems: no `${{ }}` inside `run:` scripts (values reach scripts through
//   env, so no value, e.g. a file name, can become shell code).
import { convertWorkflowTemplate, NoOperationTraceWriter, parseWorkflow } from "@actions/workflow-parser";
import { ErrorPolicy } from "@actions/workflow-parser/model/convert";
import { parse } from "yaml";

export interface WorkflowFile {
  name: string;
  text: string;
}

export type Step = { id?: string; name?: string; uses?: string; run?: string; with?: Record<string, unknown>; env?: Record<string, unknown> };
export type Job = {
  name?: string;
  needs?: string | string[];
  if?: string;
  environment?: string | { name: string; deployment?: boolean };
  permissions?: Record<string, string>;
  strategy?: { matrix?: Record<string, unknown> };
  outputs?: Record<string, string>;
  env?: Record<string, unknown>;
  uses?: string;
  steps?: Step[];
};
export type Workflow = {
  on: Record<string, any> | string | string[];
  permissions?: Record<string, string>;
  concurrency?: any;
  env?: Record<string, unknown>;
  jobs: Record<string, Job>;
};

export function load(file: WorkflowFile): Workflow {
  return parse(file.text) as Workflow;
}

export function stepsOf(job: Job): Step[] {
  return job.steps ?? [];
}

function stepLabel(jobId: string, step: Step, index: number): string {
  return `${jobId}, step ${index + 1}${step.name ? ` (${step.name})` : step.uses ? ` (${step.uses.split("@")[0]})` : ""}`;
}

/** Events that start the workflow. */
export function triggers(workflow: Workflow): string[] {
  if (typeof workflow.on === "string") return [workflow.on];
  if (Array.isArray(workflow.on)) return workflow.on;
  return Object.keys(workflow.on ?? {});
}

/** What GitHub's parser reports, with file, line and column in each message. */
export async function parseProblems(file: WorkflowFile): Promise<string[]> {
  const result = parseWorkflow({ name: file.name, content: file.text }, new NoOperationTraceWriter());
  if (result.value) {
    // Conversion adds the checks of the whole (job graph, cron expressions) to the same list.
    await convertWorkflowTemplate(result.context, result.value, undefined, { errorPolicy: ErrorPolicy.TryConversion });
  }
  return [...new Set(result.context.errors.getErrors().map((e) => e.message))];
}

const USES = /^\s*(?:-\s+)?uses:\s*(["']?)([^"'\s#]+)\1\s*(?:#\s*(.*?))?\s*$/;

export function unpinnedActions(file: WorkflowFile): string[] {
  const problems: string[] = [];
  let found = 0;
  file.text.split("\n").forEach((line, i) => {
    const m = USES.exec(line);
    if (!m) return;
    found++;
    const [, , ref, comment] = m;
    const where = `${file.name}:${i + 1}`;
    if (ref.startsWith("./")) return; // an action of this repository, at this commit
    if (ref.startsWith("docker://")) {
      if (!/@sha256:[0-9a-f]{64}$/.test(ref)) problems.push(`${where}: ${ref} is not pinned by digest`);
      return;
    }
    const [name, version] = ref.split("@");
    if (!version || !/^[0-9a-f]{40}$/.test(version)) problems.push(`${where}: ${name} is not pinned to a full commit SHA (${version ?? "no ref"})`);
    else if (!comment || !/^v?\d+(\.\d+)*\b/.test(comment)) problems.push(`${where}: ${name}@${version} has no version comment beside it (# vX.Y.Z)`);
  });
  // Every `uses` the YAML holds must have been read above (a flow mapping would slip past).
  const workflow = load(file);
  const declared = Object.values(workflow.jobs ?? {}).reduce((n, job) => n + (job.uses ? 1 : 0) + stepsOf(job).filter((s) => s.uses !== undefined).length, 0);
  if (declared !== found) problems.push(`${file.name}: ${declared} uses: entries, ${found} of them written one a line as "uses: <ref> # <version>"`);
  return problems;
}

/** A step that runs the Pulumi CLI: the action with a command, or `pulumi <command>` in its script. */
export function runsPulumi(step: Step): boolean {
  if (step.uses?.startsWith("pulumi/actions@")) return step.with?.command !== undefined;
  return /(^|[\s;&|(])pulumi\s+[a-z]/m.test(step.run ?? "");
}

const TOKEN = "PULUMI_ACCESS_TOKEN";

export function pulumiTokenProblems(file: WorkflowFile): string[] {
  const workflow = load(file);
  const problems: string[] = [];
  let allowed = 0;
  if (workflow.env && TOKEN in workflow.env) problems.push(`${file.name}: ${TOKEN} in the workflow's env reaches every step; give it to the steps that run pulumi`);
  for (const [jobId, job] of Object.entries(workflow.jobs ?? {})) {
    if (job.env && TOKEN in job.env) problems.push(`${file.name}: job ${jobId}: ${TOKEN} in the job's env reaches every step; give it to the steps that run pulumi`);
    stepsOf(job).forEach((step, i) => {
      if (!step.env || !(TOKEN in step.env)) return;
      const label = `${file.name}: ${stepLabel(jobId, step, i)}`;
      if (!runsPulumi(step)) problems.push(`${label}: has ${TOKEN} but runs no pulumi command`);
      else if (/(^|[\s;&|(])(npm|npx|node|yarn|pnpm)\s/m.test(step.run ?? "")) problems.push(`${label}: has ${TOKEN} and also runs npm, npx or node (the repository's scripts); split the step`);
      else allowed++;
    });
  }
  // Anywhere else the secret is named (a `with:` input, a script, a job output) it leaks further.
  const mentions = file.text.split("\n").filter((l) => !/^\s*#/.test(l) && l.includes(`secrets.${TOKEN}`)).length;
  if (problems.length === 0 && mentions !== allowed) problems.push(`${file.name}: secrets.${TOKEN} is named ${mentions} times, ${allowed} of them in the env of a step that runs pulumi`);
  return problems;
}

export function npmCiProblems(file: WorkflowFile, allow: string[] = []): string[] {
  const workflow = load(file);
  if (!triggers(workflow).some((t) => t === "pull_request" || t === "pull_request_target")) return [];
  const problems: string[] = [];
  for (const [jobId, job] of Object.entries(workflow.jobs ?? {})) {
    stepsOf(job).forEach((step, i) => {
      if (step.name && allow.includes(step.name)) return;
      for (const line of (step.run ?? "").split("\n")) {
        if (/(^|[\s;&|(])npm\s+(ci|install|i|add)(\s|$)/.test(line) && !line.includes("--ignore-scripts")) {
          problems.push(`${file.name}: ${stepLabel(jobId, step, i)}: "${line.trim()}" runs the pull request's package scripts; add --ignore-scripts`);
        }
      }
    });
  }
  return problems;
}

const STACK_MATRIX = "${{ fromJSON(needs.stacks.outputs.stacks) }}";

export function matrixProblems(file: WorkflowFile): string[] {
  const workflow = load(file);
  const problems: string[] = [];
  const matrixJobs = Object.entries(workflow.jobs ?? {}).filter(([, job]) => job.strategy?.matrix !== undefined);
  if (matrixJobs.length === 0) return [];
  const list = workflow.jobs.stacks;
  const listStep = list && stepsOf(list).find((s) => s.id === "list");
  if (!list || !listStep || !/npm run -s stacks -- --json/.test(listStep.run ?? "") || list.outputs?.stacks !== "${{ steps.list.outputs.stacks }}") {
    problems.push(`${file.name}: no job "stacks" whose step "list" runs \`npm run -s stacks -- --json\` and whose output "stacks" is that list`);
  }
  for (const [jobId, job] of matrixJobs) {
    const matrix = job.strategy!.matrix!;
    const keys = Object.keys(matrix);
    if (keys.length !== 1 || keys[0] !== "stack" || String(matrix.stack).replace(/\s+/g, " ") !== STACK_MATRIX) {
      problems.push(`${file.name}: job ${jobId}: its matrix must be { stack: ${STACK_MATRIX} }, got ${JSON.stringify(matrix)}`);
    }
    if (![job.needs].flat().includes("stacks")) problems.push(`${file.name}: job ${jobId}: needs the stacks job`);
    // An empty list is an error for a matrix; with no stack files the job is skipped instead.
    if (!/needs\.stacks\.outputs\.stacks != '\[\]'/.test(job.if ?? "")) problems.push(`${file.name}: job ${jobId}: runs without stacks (add if: needs.stacks.outputs.stacks != '[]')`);
  }
  return problems;
}

export function runExpressionProblems(file: WorkflowFile): string[] {
  const workflow = load(file);
  const problems: string[] = [];
  for (const [jobId, job] of Object.entries(workflow.jobs ?? {})) {
    stepsOf(job).forEach((step, i) => {
      const m = /\$\{\{[^}]*\}\}/.exec(step.run ?? "");
      if (m) problems.push(`${file.name}: ${stepLabel(jobId, step, i)}: ${m[0]} inside run:; pass it through the step's env`);
    });
  }
  return problems;
}
