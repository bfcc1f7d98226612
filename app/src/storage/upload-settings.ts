// What every instance upload of the process shares, built once at start-up.
import type { Config, DuplicatePolicy } from "../config.js";
import type { Metrics } from "../metrics.js";
import type { S3Target } from "./s3-client.js";

export interface UploadSettings {
  s3: S3Target;
  partSizeBytes: number;
  partConcurrency: number;
  duplicatePolicy: DuplicatePolicy;
  metrics: Pick<Metrics, "uploadsInFlight" | "bytesStored" | "uploadAborts">;
}

export function uploadSettings(config: Config, s3: S3Target, metrics: Metrics): UploadSettings {
  return {
    s3,
    partSizeBytes: config.upload.partSizeBytes,
    partConcurrency: config.upload.partConcurrency,
    duplicatePolicy: config.duplicatePolicy,
    metrics,
  };
}
