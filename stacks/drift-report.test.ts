// The drift workflow's reading of `pulumi refresh --preview-only --json`. No Pulumi CLI runs
// here, so the inputs are written by hand in the two shapes the CLI prints with --json (a
// preview digest; a stream of engine events), with the fields this reader uses.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { driftBody, hasDrift, main, parseRefreshOutput, splitUrn } from "./drift-report";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "drift-report-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const urn = (type: string, name: string) => `urn:pulumi:dev::stowrs-to-s3::stowrs:Stack$${type}::${name}`;
const STACK_URN = "urn:pulumi:dev::stowrs-to-s3::pulumi:pulumi:Stack::stowrs-to-s3-dev";

/** A digest where the service's desired count and a bucket's tags were changed by hand and a log group was deleted. */
const drifted = {
  steps: [
    { op: "same", urn: STACK_URN },
    { op: "update", urn: urn("aws:ecs/service:Service", "stowrs-dev"), diffReasons: ["desiredCount"], detailedDiff: { desiredCount: { kind: "update" } } },
    {
      op: "refresh",
      urn: urn("aws:s3/bucket:Bucket", "stowrs-dev-dicom"),
      oldState: { outputs: { tags: { Project: "stowrs" }, secretThing: "[secret]" } },
      newState: { outputs: { tags: { Project: "stowrs", Owner: "someone" }, secretThing: "[secret]" } },
      detailedDiff: { "tags.Owner": { kind: "add" } },
    },
    { op: "refresh", urn: urn("aws:cloudwatch/logGroup:LogGroup", "stowrs-dev-app"), oldState: { outputs: { name: "x" } } },
    { op: "refresh", urn: urn("aws:kms/key:Key", "stowrs-dev"), oldState: { outputs: { a: 1 } }, newState: { outputs: { a: 1 } } },
    { op: "update", urn: "urn:pulumi:dev::stowrs-to-s3::pulumi:providers:aws::default" },
  ],
  changeSummary: { same: 40, update: 2, delete: 1 },
  duration: 1000,
};

describe("parseRefreshOutput", () => {
  it("names each resource that differs, its change and the properties that differ, from a preview digest", () => {
    const report = parseRefreshOutput(JSON.stringify(drifted));
    expect(report.parsed).toBe(true);
    expect(report.resources.map((r) => [r.type, r.name, r.op, r.properties])).toEqual([
      ["aws:cloudwatch/logGroup:LogGroup", "stowrs-dev-app", "delete", []],
      ["aws:ecs/service:Service", "stowrs-dev", "update", ["desiredCount"]],
      ["aws:s3/bucket:Bucket", "stowrs-dev-dicom", "update", ["tags.Owner"]],
    ]);
    expect(report.changes).toEqual({ update: 2, delete: 1 });
    expect(hasDrift(report)).toBe(true);
  });

  it("reads the same from a stream of engine events, one a line", () => {
    const events = [
      { sequence: 1, preludeEvent: { config: {} } },
      { sequence: 2, resourcePreEvent: { metadata: { op: "refresh", urn: urn("aws:ecs/service:Service", "stowrs-dev"), diffs: ["desiredCount"], old: { outputs: { desiredCount: 2 } }, new: { outputs: { desiredCount: 5 } } } } },
      { sequence: 3, resourcePreEvent: { metadata: { op: "same", urn: urn("aws:kms/key:Key", "stowrs-dev") } } },
      { sequence: 4, summaryEvent: { resourceChanges: { same: 10, update: 1 } } },
    ];
    const report = parseRefreshOutput(events.map((e) => JSON.stringify(e)).join("\n"));
    expect(report.resources.map((r) => [r.name, r.op, r.properties])).toEqual([["stowrs-dev", "update", ["desiredCount"]]]);
    expect(report.changes).toEqual({ update: 1 });
  });

  it("finds no drift where every resource is the same, and says when it understood nothing", () => {
    const clean = parseRefreshOutput(JSON.stringify({ steps: [{ op: "same", urn: STACK_URN }], changeSummary: { same: 43 } }));
    expect(clean).toEqual({ parsed: true, resources: [], changes: {} });
    expect(hasDrift(clean)).toBe(false);
    expect(parseRefreshOutput("error: could not log in").parsed).toBe(false);
  });
});

describe("splitUrn", () => {
  it("takes the last type of the parent chain and the name", () => {
    expect(splitUrn(urn("aws:s3/bucket:Bucket", "a::b"))).toEqual({ type: "aws:s3/bucket:Bucket", name: "a::b" });
  });
});

describe("driftBody", () => {
  it("names the stack and each resource with its changed properties, never a value", () => {
    const body = driftBody("dev", parseRefreshOutput(JSON.stringify(drifted)), { runUrl: "https://github.com/o/r/actions/runs/1", date: "2030-01-01" });
    expect(body.split("\n")[0]).toBe("Stack **dev** differs from its Pulumi state: 3 resource(s) (pulumi's count: update 2, delete 1).");
    expect(body).toContain("| stowrs-dev | `aws:ecs/service:Service` | update | desiredCount |");
    expect(body).toContain("| stowrs-dev-app | `aws:cloudwatch/logGroup:LogGroup` | delete | - |");
    expect(body).toContain("in https://github.com/o/r/actions/runs/1");
    expect(body).not.toContain("someone");
    expect(body).not.toContain("[secret]");
  });
});

describe("the workflow's command line", () => {
  function run(stack: string, output: string | undefined, exit: string) {
    const file = path.join(tmp, `${stack}-${exit}.json`);
    if (output !== undefined) fs.writeFileSync(file, output);
    const out = fs.mkdtempSync(path.join(tmp, "out-"));
    const result = main([stack, file, exit, out], { GITHUB_SERVER_URL: "https://github.com", GITHUB_REPOSITORY: "o/r", GITHUB_RUN_ID: "7" });
    const read = (f: string) => (fs.existsSync(path.join(out, f)) ? fs.readFileSync(path.join(out, f), "utf8") : undefined);
    return { ...result, status: read(`${stack}.status`), body: read(`${stack}.md`) };
  }

  it("drift (pulumi exits non-zero under --expect-no-changes): status drift and the issue body", () => {
    const r = run("dev", JSON.stringify(drifted), "255");
    expect(r).toMatchObject({ code: 0, status: "drift\n" });
    expect(r.stdout).toBe("dev: drift in 3 resource(s): stowrs-dev-app (delete), stowrs-dev (update), stowrs-dev-dicom (update)\n");
    expect(r.body).toContain("in https://github.com/o/r/actions/runs/7");
  });

  it("drift the CLI did not flag by its exit status is still drift", () => {
    expect(run("dev", JSON.stringify(drifted), "0")).toMatchObject({ code: 0, status: "drift\n" });
  });

  it("no drift: status clean, no body", () => {
    expect(run("prod", JSON.stringify({ steps: [], changeSummary: { same: 50 } }), "0")).toMatchObject({ code: 0, status: "clean\n", body: undefined });
  });

  it("a check that failed (no JSON, or pulumi failed showing no change) decides nothing and fails", () => {
    const failed = run("prod", "", "255");
    expect(failed).toMatchObject({ code: 1, status: undefined, body: undefined });
    expect(failed.stderr).toContain("prod: pulumi refresh failed (exit 255)");
    expect(run("prod", "not json", "0")).toMatchObject({ code: 1, status: undefined });
    expect(run("prod", undefined, "0")).toMatchObject({ code: 1, status: undefined });
  });

  it("refuses a stack name that would not be safe as a file name or in an issue title", () => {
    expect(main(["../x", "f", "0", tmp]).code).toBe(2);
    expect(main(["dev", "f", "x", tmp]).code).toBe(2);
  });
});
