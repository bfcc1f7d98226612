import { describe, expect, it } from "vitest";
import { containerDefinitions, type ContainerArgs } from "./containers";

const base: ContainerArgs = {
  region: "eu-central-1",
  images: { app: "registry/app@sha256:1", nginx: "registry/nginx@sha256:2" },
  dicomBucketName: "dicom-bucket",
  certificate: { mode: "FROMS3", authMode: "clientauth", bucketName: "cert-bucket" },
  app: { prefix: "incoming", wadoUrl: "https://pacs.example.org/wado", logLevel: "WARNING", responseDelay: 2 },
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
      S3_BUCKET: "dicom-bucket",
      AWS_REGION: "eu-central-1",
      PREFIX: "incoming",
      WADOURL: "https://pacs.example.org/wado",
      LOGLEVEL: "WARNING",
      RESPONSEDELAY: "2",
      UPLOAD_PART_SIZE_MIB: "16",
      UPLOAD_PART_CONCURRENCY: "6",
      UPLOAD_INSTANCE_CONCURRENCY: "12",
      MAX_INSTANCES_IN_FLIGHT: "9",
    });
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
    expect(Object.keys(env(containerDefinitions(base), "app")).filter((k) => k.startsWith("OIDC_") || k.startsWith("METRICS_"))).toEqual([]);
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
      UPSTREAM: "127.0.0.1:8080",
      LISTEN: "0.0.0.0:443",
      HEALTH_LISTEN: "0.0.0.0:8081",
      UPSTREAM_TIMEOUT_SECONDS: "3600",
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

  it("sends each container's output to its own log group", () => {
    const [nginx, app] = containerDefinitions(base);
    expect(nginx.logConfiguration.options).toEqual({ "awslogs-group": "/x/nginx", "awslogs-region": "eu-central-1", "awslogs-stream-prefix": "nginx" });
    expect(app.logConfiguration.options["awslogs-group"]).toBe("/x/app");
  });
});
