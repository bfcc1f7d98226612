// Test harness: the service in the test's own process (fast to start), against a given S3 server.
import pino from "pino";
import { loadConfig } from "../../src/config.js";
import { startService, type RunningService } from "../../src/server.js";
import type { S3rverHandle } from "./s3rver.js";

export async function startInProcessService(s3: S3rverHandle, env: Record<string, string> = {}): Promise<RunningService> {
  // The SDK's default credential chain reads these; every test S3 server uses the same pair.
  process.env.AWS_ACCESS_KEY_ID = s3.env.AWS_ACCESS_KEY_ID;
  process.env.AWS_SECRET_ACCESS_KEY = s3.env.AWS_SECRET_ACCESS_KEY;
  const config = loadConfig({ HOST: "127.0.0.1", PORT: "0", ...s3.env, ...env });
  const svc = await startService(config, pino({ level: "silent" }));
  // The service asks the store about conditional writes in the background; a test must know
  // which path its first instance takes.
  await svc.context.storage.conditionalWrites.probe();
  return svc;
}
