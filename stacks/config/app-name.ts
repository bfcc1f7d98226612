// appName: the prefix of every resource name and the value of the deployment tag. Its default
// follows the stack name, so two stacks in one account never share names by default.
import { defineBlock } from "./block";

const APP_NAME = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/;
const MAX_LENGTH = 20;

/** appName when the stack file sets none: "stowrs-<stack>" ("stowrs" when no stack name is known). */
export function defaultAppName(stack: string): string {
  return stack === "" ? "stowrs" : `stowrs-${stack}`;
}

export const appNameBlock = defineBlock({
  keys: ["appName"],
  read(r): {
    /**
     * Prefix of resource names (log groups, KMS alias, task family, buckets) and the
     * `deployment` tag: 1 to 20 of a-z, 0-9 and "-"; unique per account and region.
     * @default "stowrs-<stack>"
     */
    appName: string;
  } {
    const raw = r.raw("appName");
    const fallback = defaultAppName(r.opts.stack);
    if (raw === undefined) {
      const problem = nameProblem(fallback);
      if (problem) {
        r.report("appName", `unset, and its default "stowrs-<stack>" gives "${fallback}", which ${problem}: set stowrs-to-s3:appName`);
        return { appName: "stowrs" };
      }
      return { appName: fallback };
    }
    const name = raw.trim();
    let ok = true;
    if (name.length === 0 || name.length > MAX_LENGTH) {
      r.report("appName", `must be 1 to ${MAX_LENGTH} characters, got ${name.length} ("${name}")`);
      ok = false;
    }
    if (!APP_NAME.test(name)) {
      r.report("appName", `"${name}" may contain only a-z, 0-9 and "-", and must start and end with a letter or digit`);
      ok = false;
    }
    return { appName: ok ? name : nameProblem(fallback) ? "stowrs" : fallback };
  },
});

function nameProblem(name: string): string | undefined {
  if (name.length > MAX_LENGTH) return `is longer than ${MAX_LENGTH} characters`;
  if (!APP_NAME.test(name)) return `may contain only a-z, 0-9 and "-"`;
  return undefined;
}
