// One recorded resource graph per stack file, committed under stacks/snapshots/. A change
// to the infrastructure fails here until the snapshot is rewritten on purpose:
//   npm run plan -- <stack> --write-snapshot
// and the rewritten file is reviewed in the pull request like any other diff.
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { recordStack } from "./offline/record";
import { formatSnapshot, SNAPSHOT_DIR, snapshotPath, toSnapshot } from "./offline/snapshot";
import { listStacks, readStackFile } from "./offline/stack-file";

const REPO = path.resolve(__dirname, "..");
const stacks = listStacks(REPO);

describe("recorded resource graphs", () => {
  it("exist for the dev and prod stack files at least", () => {
    expect(stacks).toEqual(expect.arrayContaining(["dev", "prod"]));
  });

  it.each(stacks)("%s matches its committed snapshot", async (stack) => {
    const file = readStackFile(stack, REPO);
    const actual = formatSnapshot(toSnapshot(await recordStack(file.stack, file.config, undefined, { projectDir: file.projectDir, warnings: [] })));
    const target = snapshotPath(stack);
    const hint = `update deliberately with: npm run plan -- ${stack} --write-snapshot`;
    expect(fs.existsSync(target), `no snapshot ${path.relative(REPO, target)}; ${hint}`).toBe(true);
    const committed = fs.readFileSync(target, "utf8");
    // Compare parsed documents so the failure shows a structural diff, then the text.
    expect(JSON.parse(actual), hint).toEqual(JSON.parse(committed));
    expect(actual, hint).toBe(committed);
  });

  it("has no snapshot left over from a removed stack file", () => {
    const orphans = fs
      .readdirSync(SNAPSHOT_DIR)
      .filter((f) => f.endsWith(".json"))
      .map((f) => f.slice(0, -".json".length))
      .filter((s) => !stacks.includes(s));
    expect(orphans, "delete these from stacks/snapshots/").toEqual([]);
  });

  it("records the same graph on every run", async () => {
    const file = readStackFile("prod", REPO);
    const options = { projectDir: file.projectDir, warnings: [] };
    const first = toSnapshot(await recordStack(file.stack, file.config, undefined, options));
    const second = toSnapshot(await recordStack(file.stack, file.config, undefined, options));
    expect(second).toEqual(first);
  });
});
