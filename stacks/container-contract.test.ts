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
import { containerBehaviour, containerDefinitions, NGINX_OUT_DIR, PORTS, type ContainerDefinition } from "./containers";
import { drainTimings } from "./drain";
import { readDockerfile } from "./dockerfile";
import { UPSTREAM_TIMEOUT_SECONDS } from "./load-balancer";
import { recordStack } from "./offline/record";
import { listStacks, readStackFile } from "./offline/stack-file";
import { configMap, json, one } from "./testing/harness";

const REPO = path.resolve(__dirname, "..");
const APP_DOCKERFILE = readDockerfile(path.join(REPO, "app/Dockerfile"));
const NGINX_DOCKERFILE = readDockerfile(path.join(REPO, "nginx/Dockerfile"));
const IMAGE_ENV = { app: APP_DOCKERFILE.env, nginx: NGINX_DOCKERFILE.env };
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
  // Bearer tokens: the app checks exactly the stack's issuer.
  if (config.oidc) expect(app.oidc).toMatchObject(config.oidc);
  else expect(app.oidc).toBeUndefined();
  // /metrics is on its own loopback listener in every mode: nginx's public port reaches PORT only.
  expect(app.metrics).toEqual({ port: DEFAULT_METRICS_PORT, host: "127.0.0.1" });
  const behaviour = containerBehaviour(config);
  const drain = drainTimings(behaviour.drainSeconds);
  expect(app).toMatchObject({
    duplicatePolicy: config.app.duplicatePolicy,
    shutdownTimeoutMs: drain.shutdownTimeoutSeconds * 1000,
    bodyRate: { minBytesPerSecond: config.app.bodyMinBytesPerSecond, windowMs: config.app.bodyRateWindowSeconds * 1000 },
  });

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
    outDir: NGINX_OUT_DIR,
    maxConnectionsPerClient: config.front.maxConnectionsPerClient,
    bodyRateWindowSeconds: config.app.bodyRateWindowSeconds,
    // One bound for both containers: nginx's graceful stop never outlasts the app's.
    shutdownTimeoutSeconds: drain.shutdownTimeoutSeconds,
    crlRequired: behaviour.front.crlRequired,
    allowedClientSubjects: behaviour.front.allowedClientSubjects,
    s3: { region: config.region, endpoint: undefined, forcePathStyle: false },
  });
}

/** With a read-only root file system, every path a container writes must be one of its volumes, declared VOLUME in its image. */
function expectWritesOnVolumes(containers: ContainerDefinition[]) {
  for (const c of containers) {
    const env = environmentOf(c);
    const image = c.name === "app" ? APP_DOCKERFILE : NGINX_DOCKERFILE;
    expect(c.readonlyRootFilesystem, c.name).toBe(true);
    const mounts = c.mountPoints.map((m) => m.containerPath);
    // Fargate copies ownership into a bind mount only from a VOLUME of the image (else root, 0755).
    for (const m of mounts.filter((p) => !p.startsWith("/var/lib/amazon") && !p.startsWith("/var/log/amazon"))) {
      expect(image.volumes, `${c.name}: ${m} is not a VOLUME of its Dockerfile`).toContain(m);
    }
    const under = (p: string) => mounts.some((m) => p === m || p.startsWith(`${m}/`));
    // nginx writes under OUT_DIR and nowhere else (nginx/read-only-root.test.ts).
    if (c.name === "nginx") expect(under(env.OUT_DIR), `nginx writes only under OUT_DIR=${env.OUT_DIR}`).toBe(true);
    // With S3_BUCKET the app stores nothing locally (DATA_DIR is the embedded store's); Node's temp directory is a volume.
    if (c.name === "app") {
      expect(env.S3_BUCKET).toBeTruthy();
      expect(under(env.TMPDIR ?? "/tmp"), "app: the temp directory").toBe(true);
    }
  }
}

describe("the planned container environment", () => {
  it.each(listStacks(REPO))("of stack file %s is accepted by the app and nginx, which read back the stack's values", async (stack) => {
    const file = readStackFile(stack, REPO);
    const config = parseConfig(file.config, {}, { stack, projectDir: file.projectDir });
    const recorded = await recordStack(stack, file.config, undefined, { projectDir: file.projectDir, warnings: [] });
    const containers = json(one(recorded.resources, "aws:ecs/taskDefinition:TaskDefinition").inputs.containerDefinitions);
    const certBucket = config.certificate.mode === "FROMS3" ? String(recorded.outputs.certificatesBucketName) : undefined;
    expectBothAccept(containers, config, String(recorded.outputs.dicomBucketName), certBucket);
    expectWritesOnVolumes(containers);
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
      // Every hardening key set away from its default.
      {
        certificate: { mode: "FROMS3", authMode: "clientauth", source: "external", bucket: "site-tls", crlRequired: true, allowedClientSubjects: ["CN=pacs1,O=Hospital", "CN=gw\\,2,O=Clinic"] },
        app: { duplicatePolicy: "reject", bodyMinBytesPerSecond: 4096, bodyRateWindowSeconds: 20 },
        front: { maxConnectionsPerClient: 4 },
        fargate: { drainSeconds: 120, enableExecuteCommand: true },
      },
    ]) {
      const map = configMap(overrides);
      const config = parseConfig(map);
      const recorded = await recordStack("contract", map, undefined, { warnings: [] });
      const containers = json(one(recorded.resources, "aws:ecs/taskDefinition:TaskDefinition").inputs.containerDefinitions);
      const certBucket = config.certificate.mode === "FROMS3" ? String(recorded.outputs.certificatesBucketName) : undefined;
      expectBothAccept(containers, config, String(recorded.outputs.dicomBucketName), certBucket);
      expectWritesOnVolumes(containers);
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
        fc.record({
          bodyMinBytesPerSecond: fc.integer({ min: -1, max: 1024 * 1024 * 1024 + 1 }),
          bodyRateWindowSeconds: fc.integer({ min: 0, max: 3601 }),
          drainSeconds: fc.integer({ min: 0, max: 130 }),
          maxConnectionsPerClient: fc.integer({ min: -1, max: 65536 }),
          duplicatePolicy: fc.constantFrom("overwrite", "reject"),
        }),
        (partSizeMiB, partConcurrency, instanceConcurrency, maxInstancesInFlight, logLevel, responseDelay, extra) => {
          let config: StackConfig;
          try {
            config = parseConfig(
              configMap({
                fargate: { cpu: 16384, memory: 122880, drainSeconds: extra.drainSeconds },
                upload: { partSizeMiB, partConcurrency, instanceConcurrency, maxInstancesInFlight },
                app: {
                  prefix: "in/coming",
                  logLevel,
                  responseDelay,
                  duplicatePolicy: extra.duplicatePolicy,
                  bodyMinBytesPerSecond: extra.bodyMinBytesPerSecond,
                  bodyRateWindowSeconds: extra.bodyRateWindowSeconds,
                },
                front: { maxConnectionsPerClient: extra.maxConnectionsPerClient },
              }),
            );
          } catch {
            return; // the stack refuses it: nothing reaches the app
          }
          const containers = containerDefinitions({
            ...containerBehaviour(config),
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
