// upload: how the app uploads each instance to S3, and how many it admits at once, checked
// against the app container's memory (stacks/memory-budget.ts).
import {
  MAX_INSTANCES_IN_FLIGHT,
  UPLOAD_INSTANCE_CONCURRENCY,
  UPLOAD_PART_CONCURRENCY,
  UPLOAD_PART_SIZE_MIB,
  uploadBufferMiB,
  type IntegerSetting,
} from "../../app/src/config-limits";
import { appMemoryMiB, APP_BASELINE_MIB, largestInFlight, NGINX_MEMORY_MIB, worstCaseMiB } from "../memory-budget";
import { defineBlock } from "./block";
import type { FargateConfig } from "./fargate";

export interface UploadSettings {
  /** Multipart part size. @default UPLOAD_PART_SIZE_MIB.default (the service's own default) */
  partSizeMiB: number;
  /** Parts of one instance in flight. @default UPLOAD_PART_CONCURRENCY.default */
  partConcurrency: number;
  /** Instances of one request uploaded at once. @default UPLOAD_INSTANCE_CONCURRENCY.default */
  instanceConcurrency: number;
  /** Process-wide admission limit; unset in config: the largest value whose worst case fits the app's memory. */
  maxInstancesInFlight: number;
}

const defaults = {
  // The service's own defaults (app/src/config-limits.ts): one set for both.
  upload: {
    partSizeMiB: UPLOAD_PART_SIZE_MIB.default,
    partConcurrency: UPLOAD_PART_CONCURRENCY.default,
    instanceConcurrency: UPLOAD_INSTANCE_CONCURRENCY.default,
  },
};

export const uploadBlock = defineBlock({
  keys: ["upload"],
  defaults,
  read(r, earlier: { fargate: FargateConfig }): { upload: UploadSettings } {
    const key = "upload";
    const taskMemoryMiB = earlier.fargate.memory;
    const d = defaults.upload;
    const fields = r.object(key, r.raw(key), `{ partSizeMiB: 8, partConcurrency: 2, instanceConcurrency: 4 }`) ?? {};
    r.unknownFields(key, fields, ["partSizeMiB", "partConcurrency", "instanceConcurrency", "maxInstancesInFlight"]);
    const limited = (field: string, s: IntegerSetting, fallback = s.default) => r.integer(key, field, fields[field], fallback, s.min, s.max);
    const partSizeMiB = limited("partSizeMiB", UPLOAD_PART_SIZE_MIB, d.partSizeMiB);
    const partConcurrency = limited("partConcurrency", UPLOAD_PART_CONCURRENCY, d.partConcurrency);
    const instanceConcurrency = limited("instanceConcurrency", UPLOAD_INSTANCE_CONCURRENCY, d.instanceConcurrency);
    const upload = { partSizeMiB, partConcurrency };
    const appMemory = appMemoryMiB(taskMemoryMiB);
    const perInstance = uploadBufferMiB(partSizeMiB, partConcurrency);
    const budget =
      `${appMemory} MiB for the app container (task memory ${taskMemoryMiB} minus ${NGINX_MEMORY_MIB} for nginx), ` +
      `${APP_BASELINE_MIB} MiB of it for the process itself, ${perInstance} MiB per instance upload (partSizeMiB x (partConcurrency + 2))`;
    let maxInstancesInFlight: number;
    if (fields.maxInstancesInFlight === undefined) {
      maxInstancesInFlight = largestInFlight(upload, taskMemoryMiB);
      if (maxInstancesInFlight < 1) {
        r.report(key, `not even one instance upload fits: ${budget}; lower partSizeMiB or partConcurrency, or raise fargate.memory`);
        maxInstancesInFlight = 1;
      }
    } else {
      maxInstancesInFlight = limited("maxInstancesInFlight", MAX_INSTANCES_IN_FLIGHT);
      const worst = worstCaseMiB(upload, maxInstancesInFlight);
      if (worst > appMemory) {
        r.report(
          key,
          `maxInstancesInFlight ${maxInstancesInFlight} can need ${worst} MiB, more than the app container has: ${budget}; ` +
            `at most ${largestInFlight(upload, taskMemoryMiB)} fit, or raise fargate.memory`,
        );
      }
    }
    return { upload: { partSizeMiB, partConcurrency, instanceConcurrency, maxInstancesInFlight } };
  },
});
