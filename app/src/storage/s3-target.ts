// Where the service stores instances: the S3 client, the bucket, and what that store is known to do.
import type { S3Client } from "@aws-sdk/client-s3";
import type { Logger } from "pino";
import type { Histogram } from "prom-client";
import type { Config } from "../config.js";
import { ConditionalWrites } from "./conditional-writes.js";
import { ObjectPutter } from "./put-object.js";
import { createS3Client, s3Transport, type S3ClientOptions } from "./s3-client.js";

export interface S3Target {
  client: S3Client;
  bucket: string;
  /** Single PutObjects of whole instances (see put-object.ts), over the client's own connections. */
  putter: ObjectPutter;
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
  options: {
    credentials?: S3ClientOptions["credentials"];
    log: Logger;
    /** Latency of every S3 call, through the SDK or the PutObject path alike. */
    latency?: Histogram<"operation" | "outcome">;
  },
): S3Target {
  // Decided here, once; everything that depends on it reads the target's amazonS3.
  const amazonS3 = config.s3Endpoint === undefined;
  // One set of keep-alive agents and timeouts for the SDK and the PutObject path.
  const transport = s3Transport(config);
  const client = createS3Client(config, transport, { amazonS3, credentials: options.credentials });
  if (options.latency) timeSdkCalls(client, options.latency);
  const conditionalWrites = new ConditionalWrites({
    setting: config.s3ConditionalWrites,
    onAws: amazonS3,
    client,
    bucket,
    prefix: config.prefix,
    log: options.log,
  });
  const putter = new ObjectPutter(client, bucket, transport, options.latency);
  return { client, bucket, putter, amazonS3, conditionalWrites };
}

/** Times every call sent through the SDK (each UploadPart, HeadObject, ...) in the latency histogram. */
function timeSdkCalls(client: S3Client, latency: Histogram<"operation" | "outcome">): void {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const end = latency.startTimer({ operation: String(context.commandName ?? "unknown").replace(/Command$/, "") });
      try {
        const out = await next(args);
        end({ outcome: "ok" });
        return out;
      } catch (err) {
        end({ outcome: "error" });
        throw err;
      }
    },
    { step: "initialize", name: "stowrsLatency" },
  );
}
