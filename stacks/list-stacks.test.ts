// The stack list CI builds its matrices from: every Pulumi.<stack>.yaml beside Pulumi.yaml,
// nothing else, and a refusal (naming the file) for a name that could not safely become a
// job, an environment or a command-line argument.
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { main, stackNames } from "./list-stacks";

const REPO = path.resolve(__dirname, "..");
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "list-stacks-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function project(files: string[]): string {
  const dir = fs.mkdtempSync(path.join(tmp, "project-"));
  for (const f of ["Pulumi.yaml", ...files]) {
    fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    fs.writeFileSync(path.join(dir, f), "config: {}\n");
  }
  return dir;
}

describe("stackNames", () => {
  it("lists each Pulumi.<stack>.yaml beside Pulumi.yaml, sorted, and nothing else", () => {
    const dir = project(["Pulumi.prod.yaml", "Pulumi.staging.yaml", "Pulumi.dev.yaml", "Pulumi.site-b_2.eu.yaml", "README.md", "Pulumi.yaml.bak", "stacks/Pulumi.fixture.yaml"]);
    expect(stackNames(dir)).toEqual(["dev", "prod", "site-b_2.eu", "staging"]);
  });

  it("refuses a stack file whose name could not be a stack name, naming each such file", () => {
    const dir = project(["Pulumi.dev.yaml", "Pulumi.a b.yaml", "Pulumi.$(id).yaml"]);
    expect(() => stackNames(dir)).toThrow(/Pulumi\.\$\(id\)\.yaml: a stack name holds only[^\n]*\nPulumi\.a b\.yaml: a stack name holds only/);
  });
});

describe("npm run -s stacks", () => {
  it("prints one name a line, or a JSON array with --json, from the nearest Pulumi.yaml up", () => {
    const dir = project(["Pulumi.dev.yaml", "Pulumi.staging.yaml", "sub/x.txt"]);
    expect(main([], path.join(dir, "sub"))).toEqual({ code: 0, stdout: "dev\nstaging\n", stderr: "" });
    expect(main(["--json"], dir)).toEqual({ code: 0, stdout: '["dev","staging"]\n', stderr: "" });
    expect(main(["--json"], project([])).stdout).toBe("[]\n");
  });

  it("fails with a message, not a trace, on a bad name, a bad argument or no project", () => {
    const bad = main([], project(["Pulumi.a;b.yaml"]));
    expect(bad).toMatchObject({ code: 1, stdout: "" });
    expect(bad.stderr).toMatch(/^Pulumi\.a;b\.yaml: a stack name/);
    expect(main(["--jsn"], REPO)).toMatchObject({ code: 2, stderr: expect.stringContaining("unknown argument --jsn") });
    const nowhere = fs.mkdtempSync(path.join(os.tmpdir(), "no-project-"));
    try {
      expect(main([], nowhere)).toMatchObject({ code: 1, stderr: expect.stringContaining("no Pulumi.yaml found") });
    } finally {
      fs.rmSync(nowhere, { recursive: true, force: true });
    }
  });

  it("is the root script the workflows call, and lists exactly the repository's stack files", () => {
    const files = fs.readdirSync(REPO).filter((f) => /^Pulumi\.[^/]+\.ya?ml$/.test(f));
    const out = execFileSync("npm", ["run", "-s", "stacks", "--", "--json"], { cwd: REPO, encoding: "utf8" });
    const names: string[] = JSON.parse(out);
    expect(names.map((n) => `Pulumi.${n}.yaml`).sort()).toEqual(files.sort());
    expect(names.length).toBeGreaterThan(0);
  });
});
