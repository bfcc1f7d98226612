// What every instance upload of the process shares. The service context (service-context.ts,
// built once at start-up) is such a value and is what the STOW layer hands over: nothing is
// built or copied per instance, and each shared part still has one holder.
import type { Config } from "../config.js";
import type { Metrics } from "../metrics.js";
import type { S3Target } from "./s3-target.js";

export interface UploadSettings {
  config: {
    upload: Pick<Config["upload"], "partSizeBytes" | "partConcurrency">;
    duplicatePolicy: Config["duplicatePolicy"];
  };
  storage: S3Target;
  metrics: Pick<Metrics, "uploadsInFlight" | "bytesStored" | "uploadAborts">;
}
