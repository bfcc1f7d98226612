// Names, defaults and ranges of the settings a deployment tunes. The service's loadConfig
// checks them, and the Pulumi program (stacks/config.ts) imports this same file, so a
// stack cannot write a value the service would refuse, nor assume a different default.

export interface IntegerSetting {
  /** Environment variable the service reads. */
  env: string;
  default: number;
  min: number;
  max: number;
}

/** S3 multipart part size; S3 refuses parts under 5 MiB (except the last) and over 5 GiB. */
export const UPLOAD_PART_SIZE_MIB: IntegerSetting = { env: "UPLOAD_PART_SIZE_MIB", default: 5, min: 5, max: 5 * 1024 };
/** Parts of one instance in flight; 2 keeps a 1 GiB upload near its measured RSS (README, Benchmarks). */
export const UPLOAD_PART_CONCURRENCY: IntegerSetting = { env: "UPLOAD_PART_CONCURRENCY", default: 2, min: 1, max: 64 };
export const UPLOAD_INSTANCE_CONCURRENCY: IntegerSetting = { env: "UPLOAD_INSTANCE_CONCURRENCY", default: 4, min: 1, max: 256 };
export const MAX_INSTANCES_IN_FLIGHT: IntegerSetting = { env: "MAX_INSTANCES_IN_FLIGHT", default: 64, min: 1, max: 100_000 };

export const RESPONSE_DELAY_MAX_SECONDS = 600;

/**
 * Data one instance upload can hold at once, in MiB: UPLOAD_PART_CONCURRENCY + 1 part buffers
 * (storage/multipart-stream.ts), and, when an instance outgrows one part, the part's worth of
 * chunks collected until then, copied into the first buffer and only then let go.
 */
export function uploadBufferMiB(partSizeMiB: number, partConcurrency: number): number {
  return partSizeMiB * (partConcurrency + 2);
}
