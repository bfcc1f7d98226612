// Test harness: a real S3-compatible server (s3rver) in a child process on 127.0.0.1.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { S3Client, type S3ClientConfig } from "@aws-sdk/client-s3";
import { startEmbeddedStore, EMBEDDED_ACCESS_KEY, EMBEDDED_SECRET_KEY } from "../../src/embedded-s3/embedded-store.js";

export interface S3rverHandle {
  endpoint: string;
  port: number;
  bucket: string;
  dir: string;
  client: S3Client;
  /** Environment for the service (or nginx/render) to use this server. */
  env: Record<string, string>;
  stop(): Promise<void>;
  kill(): Promise<void>;
  restart(): Promise<void>;
}

/**
 * An S3 client for an embedded store, or for a test's own S3 stand-in on loopback: path style,
 * the embedded store's fixed credentials, checksums only when required.
 */
export function embeddedStoreClient(endpoint: string, options: Pick<S3ClientConfig, "requestHandler" | "maxAttempts"> = {}): S3Client {
  return new S3Client({
    endpoint,
    region: "us-east-1",
    forcePathStyle: true,
    credentials: { accessKeyId: EMBEDDED_ACCESS_KEY, secretAccessKey: EMBEDDED_SECRET_KEY },
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
    ...options,
  });
}

/** Environment for the service (or nginx/render) to use an embedded store. */
export function embeddedStoreEnv(endpoint: string, bucket: string): Record<string, string> {
  return {
    S3_ENDPOINT: endpoint,
    S3_BUCKET: bucket,
    S3_FORCE_PATH_STYLE: "true",
    AWS_REGION: "us-east-1",
    AWS_ACCESS_KEY_ID: EMBEDDED_ACCESS_KEY,
    AWS_SECRET_ACCESS_KEY: EMBEDDED_SECRET_KEY,
  };
}

export async function startS3rver(opts: { dir?: string; bucket?: string; conditionalWrites?: boolean } = {}): Promise<S3rverHandle> {
  const ownDir = !opts.dir;
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), "s3rver-"));
  const bucket = opts.bucket ?? "dicom";
  const store = await startEmbeddedStore({ dir, bucket, conditionalWrites: opts.conditionalWrites });
  const client = embeddedStoreClient(store.endpoint);
  return {
    get endpoint() {
      return store.endpoint;
    },
    get port() {
      return store.port;
    },
    bucket,
    dir,
    client,
    get env() {
      return embeddedStoreEnv(store.endpoint, bucket);
    },
    async stop() {
      client.destroy();
      await store.stop();
      if (ownDir) rmSync(dir, { recursive: true, force: true });
    },
    kill: () => store.kill(),
    restart: () => store.restart(),
  };
}
