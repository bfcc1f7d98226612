// One recorded resource graph per stack file, committed under stacks/snapshots/. A change
// to the infrastructure, or a stack file without a snapshot, fails here naming the one
// command that writes it:
//   npm run plan -- <stack> --write-snapshot
// and the written file is reviewed in the pull request like any other diff.
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { recordStackFile } from "./offline/record";
import { compareSnapshot, SNAPSHOT_DIR, toSnapshot } from "./offline/snapshot";
import { listStacks, readStackFile } from "./offline/stack-file";
import { ANONYMOUS, CLIENTAUTH } from "./testing/fixtures";

const REPO = path.resolve(__dirname, "..");
const stacks = listStacks(REPO);

describe("recorded resource graphs", () => {
  it("exist for every stack file of the repository, and there is at least one", () => {
    expect(stacks.length).toBeGreaterThan(0);
  });

  it.each(stacks)("%s matches its committed snapshot", async (stack) => {
    const { actual, committed, problem } = await compareSnapshot(readStackFile(stack, REPO));
    expect(committed, problem).toBeDefined();
    // Compare parsed documents so the failure shows a structural diff, then the text.
    expect(JSON.parse(actual), problem).toEqual(JSON.parse(committed!));
    expect(actual, problem).toBe(committed);
  });

  it("name the one command that writes a missing snapshot", async () => {
    const { committed, problem } = await compareSnapshot(readStackFile(ANONYMOUS, REPO));
    expect(committed).toBeUndefined();
    expect(problem).toBe("no snapshot stacks/snapshots/fixture-anonymous.json for Pulumi.fixture-anonymous.yaml; write it with: npm run plan -- fixture-anonymous --write-snapshot");
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
    const file = readStackFile(CLIENTAUTH, REPO);
    const first = toSnapshot(await recordStackFile(file, { warnings: [] }));
    const second = toSnapshot(await recordStackFile(file, { warnings: [] }));
    expect(second).toEqual(first);
  });
});
