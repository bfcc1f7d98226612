// The container environment is one contract between three parties: the stack writes it
// (containerDefinitions), the app (app/src/config.ts) and nginx (nginx/lib/settings.js)
// read it. Here each stack's planned environment, on top of the ENV its image sets, goes
// through the app's and nginx's own parsers, which must accept it and read back exactly
// what the stack configured.
import * as path from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DEFAULT_METRICS_PORT, loadConfig as loadAppConfig } from "../app/src/config";
import { UPLOAD_INSTANCE_CONCURRENCY, UPLOAD_PART_CONCURRENCY, UPLOAD_PART_SIZE_MIB } from "../app/src/config-limits";
import { readSettings } from "./testing/nginx-settings";
import { parseConfig, usesClientCertificates, type StackConfig } from "./config";
import { containerDefinitions, DEFAULT_BEHAVIOUR, PORTS, type ContainerDefinition } from "./containers";
import { readDockerfile } from "./dockerfile";
import { UPSTREAM_TIMEOUT_SECONDS } from "./load-balancer";
import { recordStack } from "./offline/record";
import { listStacks, readStackFile } from "./offline/stack-file";
import { configMap, json, one } from "./testing/harness";

const REPO = path.resolve(__dirname, "..");
const IMAGE_ENV = {
  app: readDockerfile(path.join(REPO, "app/Dockerfile")).env,
  nginx: readDockerfile(path.join(REPO, "nginx/Dockerfile")).env,
};
const MIB = 1024 * 1024;
const APP_LOG_LEVELS = { ERROR: "error", WARNING: "warn", INFO: "info", DEBUG: "debug", CRITICAL: "fatal" } as const;

/** What a container sees: its image's ENV, overridden by the task definition's environment. */
function environmentOf(container: ContainerDefinition): Record<string, string> {
  const image = IMAGE_ENV[container.name as "app" | "nginx"];
  return { ...image, ...Object.fromEntries(container.environment.map((e) => [e.name, e.value])) };
}

function expectBothAccept(containers: ContainerDefinition[], config: StackConfig, dicomBucket: string, certBucket?: string) {
  const app = loadAppConfig(environmentOf(containers.find((c) => c.name === "app")!));
  expect(app).toMatchObject({
    port: PORTS.app,
    host: "127.0.0.1",
    bucket: dicomBucket,
    region: config.region,
    prefix: config.app.prefix,
    wadoUrl: config.app.wadoUrl === "" ? undefined : config.app.wadoUrl.replace(/\/+$/, ""),
    logLevel: APP_LOG_LEVELS[config.app.logLevel],
    responseDelayMs: Math.round(config.app.responseDelay * 1000),
    upload: {
      partSizeBytes: config.upload.partSizeMiB * MIB,
      partConcurrency: config.upload.partConcurrency,
      instanceConcurrency: config.upload.instanceConcurrency,
    },
    maxInstancesInFlight: config.upload.maxInstancesInFlight,
    // Real S3 in the task: no endpoint override, no path style.
    s3Endpoint: undefined,
    s3ForcePathStyle: false,
  });
  // Bearer tokens: the app checks exactly the stack's issuer, and keeps /metrics on its own loopback port.
  if (config.oidc) {
    expect(app.oidc).toMatchObject(config.oidc);
    expect(app.metrics).toEqual({ port: DEFAULT_METRICS_PORT, host: "127.0.0.1" });
  } else {
    expect(app.oidc).toBeUndefined();
    expect(app.metrics).toBeUndefined();
  }

  const nginx = readSettings(environmentOf(containers.find((c) => c.name === "nginx")!));
  expect(nginx).toMatchObject({
    authMode: config.certificate.authMode,
    clientCertificates: usesClientCertificates(config.certificate.authMode),
    certMode: config.certificate.mode,
    certBucket,
    certPrefix: "",
    upstream: { host: "127.0.0.1", port: PORTS.app },
    listen: { port: PORTS.tls },
    healthListen: { port: PORTS.health },
    upstreamTimeoutSeconds: UPSTREAM_TIMEOUT_SECONDS[config.certificate.mode],
    s3: { region: config.region, endpoint: undefined, forcePathStyle: false },
  });
}

describe("the planned container environment", () => {
  it.each(listStacks(REPO))("of stack file %s is accepted by the app and nginx, which read back the stack's values", async (stack) => {
    const file = readStackFile(stack, REPO);
    const config = parseConfig(file.config, {}, { stack, projectDir: file.projectDir });
    const recorded = await recordStack(stack, file.config, undefined, { projectDir: file.projectDir, warnings: [] });
    const containers = json(one(recorded.resources, "aws:ecs/taskDefinition:TaskDefinition").inputs.containerDefinitions);
    const certBucket = config.certificate.mode === "FROMS3" ? String(recorded.outputs.certificatesBucketName) : undefined;
    expectBothAccept(containers, config, String(recorded.outputs.dicomBucketName), certBucket);
  });

  it("of the defaults, of ACM mode, of an external certificate bucket and of each bearer-token mode too", async () => {
    const arn = "arn:aws:acm:eu-central-1:123456789012:certificate/0b1c2d3e";
    const oidc = { issuer: "https://login.microsoftonline.com/4f3c0a7e-0000-4000-8000-000000000000/v2.0", audience: "api://stowrs", requiredScope: "dicomweb.write", algorithms: ["RS256"] };
    for (const overrides of [
      {},
      { certificate: { mode: "ACM", arn } },
      { certificate: { mode: "FROMS3", authMode: "clientauth", source: "external", bucket: "site-tls" } },
      { certificate: { mode: "FROMS3", authMode: "oidc" }, oidc },
      { certificate: { mode: "ACM", authMode: "oidc", arn }, oidc: { issuer: "https://cognito-idp.eu-central-1.amazonaws.com/eu-central-1_Example", audience: "1example23456789" } },
      { certificate: { mode: "FROMS3", authMode: "clientauth+oidc", source: "external", bucket: "site-tls" }, oidc },
    ]) {
      const map = configMap(overrides);
      const config = parseConfig(map);
      const recorded = await recordStack("contract", map, undefined, { warnings: [] });
      const containers = json(one(recorded.resources, "aws:ecs/taskDefinition:TaskDefinition").inputs.containerDefinitions);
      const certBucket = config.certificate.mode === "FROMS3" ? String(recorded.outputs.certificatesBucketName) : undefined;
      expectBothAccept(containers, config, String(recorded.outputs.dicomBucketName), certBucket);
    }
  });

  it("for any upload settings the stack accepts, the app accepts them too", () => {
    fc.assert(
      fc.property(
        // Beyond the ranges on both sides: whatever the stack lets through must suit the app.
        fc.integer({ min: 0, max: UPLOAD_PART_SIZE_MIB.max + 10 }),
        fc.integer({ min: 0, max: UPLOAD_PART_CONCURRENCY.max + 10 }),
        fc.integer({ min: 0, max: UPLOAD_INSTANCE_CONCURRENCY.max + 10 }),
        fc.integer({ min: 0, max: 200 }),
        fc.constantFrom(...["ERROR", "WARNING", "INFO", "DEBUG", "CRITICAL"]),
        fc.double({ min: -1, max: 700, noNaN: true }).map((d) => Math.round(d * 10) / 10),
        (partSizeMiB, partConcurrency, instanceConcurrency, maxInstancesInFlight, logLevel, responseDelay) => {
          let config: StackConfig;
          try {
            config = parseConfig(
              configMap({
                fargate: { cpu: 16384, memory: 122880 },
                upload: { partSizeMiB, partConcurrency, instanceConcurrency, maxInstancesInFlight },
                app: { prefix: "in/coming", logLevel, responseDelay },
              }),
            );
          } catch {
            return; // the stack refuses it: nothing reaches the app
          }
          const containers = containerDefinitions({
            ...DEFAULT_BEHAVIOUR,
            region: config.region,
            images: { app: "a", nginx: "n" },
            dicomBucketName: "dicom-bucket",
            certificate: { mode: "FROMS3", authMode: "anonymous", bucketName: "cert-bucket" },
            app: config.app,
            upload: config.upload,
            logGroups: { app: "/a", nginx: "/n" },
            taskMemoryMiB: config.fargate.memory,
            upstreamTimeoutSeconds: 3600,
          });
          expectBothAccept(containers, config, "dicom-bucket", "cert-bucket");
        },
      ),
      { numRuns: 200 },
    );
  });
});
