import { describe, expect, it } from "vitest";
import { DEFAULTS } from "./config";
import { containerDefinitions, taskVolumes, type ContainerArgs } from "./containers";
import { DEFAULT_BEHAVIOUR } from "./testing/behaviour";

const base: ContainerArgs = {
  ...DEFAULT_BEHAVIOUR,
  region: "eu-central-1",
  images: { app: "registry/app@sha256:1", nginx: "registry/nginx@sha256:2" },
  dicomBucketName: "dicom-bucket",
  certificate: { mode: "FROMS3", authMode: "clientauth", bucketName: "cert-bucket" },
  app: { ...DEFAULTS.app, prefix: "incoming", wadoUrl: "https://pacs.example.org/wado", logLevel: "WARNING", responseDelay: 2 },
  upload: { partSizeMiB: 16, partConcurrency: 6, instanceConcurrency: 12, maxInstancesInFlight: 9 },
  logGroups: { app: "/x/app", nginx: "/x/nginx" },
  taskMemoryMiB: 2048,
  upstreamTimeoutSeconds: 3600,
};

function env(defs: ReturnType<typeof containerDefinitions>, name: string): Record<string, string> {
  const def = defs.find((d) => d.name === name)!;
  return Object.fromEntries(def.environment.map((e) => [e.name, e.value]));
}

describe("containerDefinitions", () => {
  it("gives the app its settings, upload tuning included, listening on loopback only", () => {
    expect(env(containerDefinitions(base), "app")).toEqual({
      PORT: "8080",
      HOST: "127.0.0.1",
      METRICS_PORT: "9464",
      METRICS_HOST: "127.0.0.1",
      S3_BUCKET: "dicom-bucket",
      AWS_REGION: "eu-central-1",
      PREFIX: "incoming",
      WADOURL: "https://pacs.example.org/wado",
      LOGLEVEL: "WARNING",
      RESPONSEDELAY: "2",
      DUPLICATE_POLICY: "overwrite",
      SHUTDOWN_TIMEOUT_SECONDS: "50",
      BODY_MIN_BYTES_PER_SECOND: "1024",
      BODY_RATE_WINDOW_SECONDS: "60",
      UPLOAD_PART_SIZE_MIB: "16",
      UPLOAD_PART_CONCURRENCY: "6",
      UPLOAD_INSTANCE_CONCURRENCY: "12",
      MAX_INSTANCES_IN_FLIGHT: "9",
    });
  });

  it("keeps /metrics on a loopback port of its own in every auth mode, out of reach of nginx's public port", () => {
    for (const authMode of ["anonymous", "clientauth", "oidc", "clientauth+oidc"] as const) {
      const app = env(containerDefinitions({ ...base, certificate: { ...base.certificate, authMode } }), "app");
      expect([app.METRICS_PORT, app.METRICS_HOST]).toEqual(["9464", "127.0.0.1"]);
      expect(app.METRICS_PORT).not.toBe(app.PORT);
    }
  });

  it("writes the duplicate policy and the body rate the stack is given, the rate to both containers", () => {
    const defs = containerDefinitions({ ...base, duplicatePolicy: "reject", bodyRate: { minBytesPerSecond: 4096, windowSeconds: 20 } });
    expect(env(defs, "app")).toMatchObject({ DUPLICATE_POLICY: "reject", BODY_MIN_BYTES_PER_SECOND: "4096", BODY_RATE_WINDOW_SECONDS: "20" });
    expect(env(defs, "nginx")).toMatchObject({ BODY_MIN_BYTES_PER_SECOND: "4096", BODY_RATE_WINDOW_SECONDS: "20" });
  });

  it("gives nginx the per-client connection limit, and with client certificates the CRL requirement and the allowed subjects", () => {
    const front = { maxConnectionsPerClient: 8, crlRequired: true, allowedClientSubjects: ["CN=pacs1,O=Hospital", "CN=gw,O=Clinic"] };
    expect(env(containerDefinitions({ ...base, front }), "nginx")).toMatchObject({
      MAX_CONNECTIONS_PER_CLIENT: "8",
      CRL_REQUIRED: "true",
      ALLOWED_CLIENT_SUBJECTS: JSON.stringify(["CN=pacs1,O=Hospital", "CN=gw,O=Clinic"]),
    });
    expect(env(containerDefinitions(base), "nginx")).not.toHaveProperty("ALLOWED_CLIENT_SUBJECTS");
    const anonymous = env(containerDefinitions({ ...base, certificate: { ...base.certificate, authMode: "anonymous" } }), "nginx");
    expect(Object.keys(anonymous).filter((k) => k === "CRL_REQUIRED" || k === "ALLOWED_CLIENT_SUBJECTS")).toEqual([]);
    expect(() => containerDefinitions({ ...base, certificate: { ...base.certificate, authMode: "oidc" }, front })).toThrow(/need client certificates/);
  });

  it("derives both stop timeouts and both shutdown bounds from drainSeconds (drain.ts)", () => {
    const defs = containerDefinitions({ ...base, drainSeconds: 120 });
    expect(defs.map((d) => [d.name, d.stopTimeout])).toEqual([["nginx", 120], ["app", 120]]);
    expect([env(defs, "nginx").SHUTDOWN_TIMEOUT_SECONDS, env(defs, "app").SHUTDOWN_TIMEOUT_SECONDS]).toEqual(["110", "110"]);
    expect(() => containerDefinitions({ ...base, drainSeconds: 121 })).toThrow(/drainSeconds/);
  });

  it("runs both containers on a read-only root file system, with a volume for each path they write", () => {
    const [nginx, app] = containerDefinitions(base);
    expect([nginx.readonlyRootFilesystem, app.readonlyRootFilesystem]).toEqual([true, true]);
    expect(nginx.mountPoints).toEqual([{ sourceVolume: "nginx-out", containerPath: "/run/front", readOnly: false }]);
    expect(app.mountPoints).toEqual([{ sourceVolume: "app-tmp", containerPath: "/tmp", readOnly: false }]);
    // nginx writes only under OUT_DIR (nginx/lib/layout.js), and OUT_DIR is a volume.
    expect(env([nginx], "nginx").OUT_DIR).toBe("/run/front");
    const mounted = new Set([nginx, app].flatMap((c) => c.mountPoints.map((m) => m.sourceVolume)));
    expect(taskVolumes(false).map((v) => v.name).sort()).toEqual([...mounted].sort());
  });

  it("with ECS Exec, gives its agent writable paths of its own and an init process, the root staying read-only", () => {
    const defs = containerDefinitions({ ...base, executeCommand: true });
    for (const d of defs) {
      expect(d.readonlyRootFilesystem).toBe(true);
      expect(d.mountPoints.map((m) => m.containerPath)).toEqual(expect.arrayContaining(["/var/lib/amazon", "/var/log/amazon"]));
      expect(d.linuxParameters).toEqual({ initProcessEnabled: true });
    }
    const mounted = new Set(defs.flatMap((c) => c.mountPoints.map((m) => m.sourceVolume)));
    expect(taskVolumes(true).map((v) => v.name).sort()).toEqual([...mounted].sort());
    expect(containerDefinitions(base)[0].linuxParameters).toBeUndefined();
  });

  it("gives the app the token issuer with authMode oidc, and nginx the mode; nothing of it otherwise", () => {
    const oidc = { issuer: "https://idp.hospital.test/realms/imaging", audience: "stowrs", requiredScope: "dicomweb.write", algorithms: ["RS256", "ES256"] };
    const defs = containerDefinitions({ ...base, certificate: { ...base.certificate, authMode: "clientauth+oidc" }, oidc });
    expect(env(defs, "app")).toMatchObject({
      OIDC_ISSUER: "https://idp.hospital.test/realms/imaging",
      OIDC_AUDIENCE: "stowrs",
      OIDC_REQUIRED_SCOPE: "dicomweb.write",
      OIDC_ALGORITHMS: "RS256,ES256",
    });
    expect(env(defs, "nginx").AUTH_MODE).toBe("clientauth+oidc");
    expect(Object.keys(env(containerDefinitions(base), "app")).filter((k) => k.startsWith("OIDC_"))).toEqual([]);
  });

  it("splits the task's memory: a fixed share for nginx, the rest as the app's hard limit", () => {
    const [nginx, app] = containerDefinitions(base);
    expect(nginx.memory).toBe(256);
    expect(app.memory).toBe(2048 - 256);
  });

  it("labels nginx with the digest of the certificate objects, so new ones make a new task definition", () => {
    const [nginx] = containerDefinitions({ ...base, certificatesSha256: "ab".repeat(32) });
    expect(nginx.dockerLabels).toEqual({ "stowrs-to-s3.certificates-sha256": "ab".repeat(32) });
    expect(containerDefinitions(base)[0].dockerLabels).toBeUndefined();
  });

  it("leaves WADOURL out when none is configured", () => {
    expect(env(containerDefinitions({ ...base, app: { ...base.app, wadoUrl: "" } }), "app")).not.toHaveProperty("WADOURL");
  });

  it("points nginx at the certificate bucket in FROMS3 mode", () => {
    expect(env(containerDefinitions(base), "nginx")).toEqual({
      AUTH_MODE: "clientauth",
      CERT_MODE: "FROMS3",
      CERT_BUCKET: "cert-bucket",
      AWS_REGION: "eu-central-1",
      OUT_DIR: "/run/front",
      UPSTREAM: "127.0.0.1:8080",
      LISTEN: "0.0.0.0:443",
      HEALTH_LISTEN: "0.0.0.0:8081",
      UPSTREAM_TIMEOUT_SECONDS: "3600",
      SHUTDOWN_TIMEOUT_SECONDS: "50",
      MAX_CONNECTIONS_PER_CLIENT: "32",
      BODY_MIN_BYTES_PER_SECOND: "1024",
      BODY_RATE_WINDOW_SECONDS: "60",
      CRL_REQUIRED: "false",
    });
  });

  it("gives nginx no bucket in ACM mode", () => {
    const defs = containerDefinitions({ ...base, certificate: { mode: "ACM", authMode: "anonymous" } });
    expect(env(defs, "nginx")).toMatchObject({ CERT_MODE: "ACM", AUTH_MODE: "anonymous" });
    expect(env(defs, "nginx")).not.toHaveProperty("CERT_BUCKET");
  });

  it("refuses FROMS3 without a bucket rather than starting nginx with nothing to serve", () => {
    expect(() => containerDefinitions({ ...base, certificate: { mode: "FROMS3", authMode: "anonymous" } })).toThrow(/certificates bucket/);
  });

  it("exposes TLS and the health port on nginx only, and starts nginx once the app is healthy", () => {
    const [nginx, app] = containerDefinitions(base);
    expect(nginx.portMappings.map((p) => p.containerPort)).toEqual([443, 8081]);
    expect(app.portMappings).toEqual([]);
    expect(nginx.dependsOn).toEqual([{ containerName: "app", condition: "HEALTHY" }]);
    expect(app.healthCheck?.command.join(" ")).toContain("http://127.0.0.1:8080/health");
    expect([nginx.essential, app.essential]).toEqual([true, true]);
  });

  it("sends each container's output to its own log group, never blocking the container when CloudWatch Logs stalls", () => {
    const [nginx, app] = containerDefinitions(base);
    expect(nginx.logConfiguration.options).toEqual({
      "awslogs-group": "/x/nginx",
      "awslogs-region": "eu-central-1",
      "awslogs-stream-prefix": "nginx",
      mode: "non-blocking",
      "max-buffer-size": "25m",
    });
    expect(app.logConfiguration.options).toMatchObject({ mode: "non-blocking", "max-buffer-size": "25m" });
    expect(app.logConfiguration.options["awslogs-group"]).toBe("/x/app");
  });
});
