// Checks across the stack files of one directory, which one AWS account may well hold
// together: resource names (log groups, KMS alias, task family, roles) come from appName, so
// two stacks with one appName collide, and VPCs whose ranges overlap cannot be peered or
// joined by a transit gateway later.
import * as fs from "node:fs";
import * as path from "node:path";
import { cidrsOverlap, parseCidr } from "../cidr";
import { DEFAULTS, defaultAppName, NAMESPACE } from "../config";
import { readStackFile, type StackFile } from "./stack-file";
import { stackNames } from "./stack-names";

export interface StackSetFindings {
  /** The plan fails with these. */
  problems: string[];
  warnings: string[];
}

interface Identity {
  stack: string;
  file: string;
  /** undefined when the file keeps it encrypted (then it cannot be compared). */
  appName?: string;
  vpcCidr?: string;
}

/** Compares `file` with every other Pulumi.<stack>.yaml beside it. */
export function checkStackSet(file: StackFile): StackSetFindings {
  const dir = path.dirname(file.file);
  const mine = identity(file);
  const findings: StackSetFindings = { problems: [], warnings: [] };
  for (const stack of stackNames(dir)) {
    if (stack === file.stack) continue;
    let other: Identity;
    try {
      const sibling = ["yaml", "yml"].map((ext) => path.join(dir, `Pulumi.${stack}.${ext}`)).find((f) => fs.existsSync(f));
      other = identity(readStackFile(sibling!, dir));
    } catch {
      continue; // A sibling that does not parse is that stack's problem, reported when it is planned.
    }
    if (mine.appName !== undefined && mine.appName === other.appName) {
      findings.problems.push(
        `${NAMESPACE}:appName: "${mine.appName}" is the appName of both ${mine.file} and ${other.file}: ` +
          `their resources (log groups, KMS alias, task family, roles, buckets) would collide in one account; ` +
          `give each stack its own appName (left unset it is "stowrs-<stack>")`,
      );
    }
    const a = mine.vpcCidr === undefined ? undefined : parseCidr(mine.vpcCidr);
    const b = other.vpcCidr === undefined ? undefined : parseCidr(other.vpcCidr);
    if (a && b && typeof a !== "string" && typeof b !== "string" && cidrsOverlap(a, b)) {
      findings.warnings.push(
        `${NAMESPACE}:vpcCidr: ${a.text} overlaps ${b.text} of ${other.file}: the two VPCs could never be peered ` +
          `or joined by a transit gateway; give each stack its own range`,
      );
    }
  }
  return findings;
}

function identity(file: StackFile): Identity {
  const value = (key: string) => {
    const v = file.values[`${NAMESPACE}:${key}`];
    return typeof v === "string" ? v.trim() : v === undefined ? null : undefined;
  };
  const appName = value("appName");
  const vpcCidr = value("vpcCidr");
  return {
    stack: file.stack,
    file: file.file,
    appName: appName === null ? defaultAppName(file.stack) : appName,
    vpcCidr: vpcCidr === null ? DEFAULTS.vpcCidr : vpcCidr,
  };
}
