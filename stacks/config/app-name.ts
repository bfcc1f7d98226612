// appName: the prefix of every resource name and the value of the deployment tag.
import { defineBlock } from "./block";

const APP_NAME = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/;

const defaults = {
  /** @default "stowrs" */
  appName: "stowrs",
};

export const appNameBlock = defineBlock({
  keys: ["appName"],
  defaults,
  read(r): {
    /**
     * Prefix of resource names (log groups, KMS alias, task family, buckets) and the
     * `deployment` tag: 1 to 20 of a-z, 0-9 and "-". @default "stowrs"
     */
    appName: string;
  } {
    const raw = r.raw("appName");
    if (raw === undefined) return { appName: defaults.appName };
    const name = raw.trim();
    let ok = true;
    if (name.length === 0 || name.length > 20) {
      r.report("appName", `must be 1 to 20 characters, got ${name.length} ("${name}")`);
      ok = false;
    }
    if (!APP_NAME.test(name)) {
      r.report("appName", `"${name}" may contain only a-z, 0-9 and "-", and must start and end with a letter or digit`);
      ok = false;
    }
    return { appName: ok ? name : defaults.appName };
  },
});
