// Where the service stores instances: the S3 client, the bucket, and what that store is known to do.
import type { S3Client } from "@aws-sdk/client-s3";
import type { Logger } from "pino";
import type { Config } from "../config.js";
import { ConditionalWrites } from "./conditional-writes.js";
import { createS3Client, type S3ClientOptions } from "./s3-client.js";

export interface S3Target {
  client: S3Client;
  bucket: string;
  /**
   * Amazon S3 itself (no S3_ENDPOINT), not an S3-compatible store: uploads then carry S3
   * checksums (some compatible stores corrupt streamed uploads that do), and conditional
   * writes are trusted without a probe.
   */
  amazonS3: boolean;
  /** Whether new instances can be written with If-None-Match instead of a HEAD first. */
  conditionalWrites: ConditionalWrites;
}

export function createS3Target(
  config: Config,
  bucket: string,
  options: { credentials?: S3ClientOptions["credentials"]; log: Logger },
): S3Target {
  // Decided here, once; everything that depends on it reads the target's amazonS3.
  const amazonS3 = config.s3Endpoint === undefined;
  const client = createS3Client(config, { amazonS3, credentials: options.credentials });
  const conditionalWrites = new ConditionalWrites({
    setting: config.s3ConditionalWrites,
    onAws: amazonS3,
    client,
    bucket,
    prefix: config.prefix,
    log: options.log,
  });
  return { client, bucket, amazonS3, conditionalWrites };
}
