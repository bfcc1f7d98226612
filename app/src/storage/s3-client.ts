import { Agent as HttpAgent } from "node:http";
import { Agent as HttpsAgent } from "node:https";
import { S3Client } from "@aws-sdk/client-s3";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import type { Config } from "../config.js";
import { ChunkedBody } from "./chunked-body.js";
import type { S3Transport } from "./put-object.js";

export interface S3ClientOptions {
  /** Amazon S3 itself, not an S3-compatible store (see s3-target.ts). */
  amazonS3: boolean;
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
}

/** The keep-alive agents and timeouts of the service's S3 connections, shared by the SDK and the PutObject path. */
export function s3Transport(config: Config): S3Transport {
  const agentOptions = { keepAlive: true, maxSockets: 256 };
  return {
    httpAgent: new HttpAgent(agentOptions),
    httpsAgent: new HttpsAgent(agentOptions),
    connectionTimeoutMs: 5_000,
    // S3_REQUEST_TIMEOUT_SECONDS means "no progress for this long". That is the socket timeout:
    // the handler's requestTimeout only logs a warning unless told to throw, and as a cap on the
    // whole request it would cut off a large part on a slow link that is still making progress.
    socketTimeoutMs: config.s3RequestTimeoutMs,
  };
}

/** Object metadata key holding the hex SHA-256 of the object's bytes. */
export const SHA256_METADATA = "sha256";

export function createS3Client(config: Config, transport: S3Transport, options: S3ClientOptions): S3Client {
  // Checksums are computed over each buffered part; some S3-compatible servers corrupt
  // streamed uploads that carry them, so they are only asked for on AWS itself.
  const client = new S3Client({
    region: config.region,
    endpoint: config.s3Endpoint,
    forcePathStyle: config.s3ForcePathStyle,
    credentials: options.credentials,
    requestChecksumCalculation: options.amazonS3 ? "WHEN_SUPPORTED" : "WHEN_REQUIRED",
    responseChecksumValidation: options.amazonS3 ? "WHEN_SUPPORTED" : "WHEN_REQUIRED",
    // Standard retry mode: exponential backoff with full jitter, on throttling, 5xx and network errors.
    retryMode: "standard",
    maxAttempts: config.s3MaxAttempts,
    requestHandler: new ChunkedBodyHttpHandler({
      connectionTimeout: transport.connectionTimeoutMs,
      socketTimeout: transport.socketTimeoutMs,
      httpAgent: transport.httpAgent,
      httpsAgent: transport.httpsAgent,
    }),
  });
  reuseInstanceHash(client);
  return client;
}

type HandlerRequest = Parameters<NodeHttpHandler["handle"]>[0];

/** Sends a ChunkedBody as a fresh stream on every attempt; the request the SDK keeps (and retries) is left as it is. */
export class ChunkedBodyHttpHandler extends NodeHttpHandler {
  override handle(request: HandlerRequest, options?: Parameters<NodeHttpHandler["handle"]>[1]) {
    if (!(request.body instanceof ChunkedBody)) return super.handle(request, options);
    return super.handle({ ...request, body: request.body.stream() } as HandlerRequest, options);
  }
}

/**
 * A single-PUT instance's body is exactly the bytes whose SHA-256 the upload computed while
 * streaming; SigV4 signs that same digest, so hand it over instead of hashing the body twice
 * (where PutObject goes through the SDK: see put-object.ts).
 */
export function reuseInstanceHash(client: S3Client): void {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const sha256 = (args.input as { Metadata?: Record<string, string> }).Metadata?.[SHA256_METADATA];
      const request = args.request as { headers?: Record<string, string> } | undefined;
      if (context.commandName === "PutObjectCommand" && sha256 && request?.headers) {
        request.headers["x-amz-content-sha256"] = sha256;
      }
      return next(args);
    },
    { step: "build", name: "stowrsReuseInstanceHash" },
  );
}
