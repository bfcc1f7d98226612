// The task's two containers, as ECS container definitions. A plain function over
// resolved values, so what reaches each container's environment is easy to test.
import {
  MAX_INSTANCES_IN_FLIGHT,
  OIDC_ALGORITHMS_ENV,
  OIDC_AUDIENCE_ENV,
  OIDC_ISSUER_ENV,
  OIDC_REQUIRED_SCOPE_ENV,
  UPLOAD_INSTANCE_CONCURRENCY,
  UPLOAD_PART_CONCURRENCY,
  UPLOAD_PART_SIZE_MIB,
} from "../app/src/config-limits";
import type { AppSettings, CertificateConfig, OidcConfig, UploadSettings } from "./config";
import { appMemoryMiB, NGINX_MEMORY_MIB } from "./memory-budget";

export const PORTS = {
  /** nginx: TLS (or mTLS) from the NLB. */
  tls: 443,
  /** nginx: plain HTTP, GET /ready mirrors the app's readiness for the NLB health check. */
  health: 8081,
  /** app: loopback only, reachable through nginx alone. */
  app: 8080,
} as const;

export const READY_PATH = "/ready";
export const LIVENESS_PATH = "/health";

/** Docker label carrying the digest of the certificate objects: a new digest is a new task definition. */
export const CERTIFICATES_LABEL = "stowrs-to-s3.certificates-sha256";

export interface ContainerArgs {
  region: string;
  images: { app: string; nginx: string };
  dicomBucketName: string;
  certificate: { mode: CertificateConfig["mode"]; authMode: CertificateConfig["authMode"]; bucketName?: string };
  app: AppSettings;
  /** The issuer whose bearer tokens the app accepts (authMode oidc or clientauth+oidc). */
  oidc?: OidcConfig;
  upload: UploadSettings;
  logGroups: { app: string; nginx: string };
  /** Task memory (MiB): nginx gets a fixed share, the app the rest (see memory-budget.ts). */
  taskMemoryMiB: number;
  /** nginx's proxy_read/send_timeout towards the app; not longer than the NLB's idle timeout. */
  upstreamTimeoutSeconds: number;
  /** Digest of the certificate objects the stack wrote, if any. */
  certificatesSha256?: string;
}

type KeyValue = { name: string; value: string };

export interface ContainerDefinition {
  name: string;
  image: string;
  essential: boolean;
  environment: KeyValue[];
  memory: number;
  portMappings: { containerPort: number; protocol: "tcp" }[];
  dockerLabels?: Record<string, string>;
  logConfiguration: { logDriver: "awslogs"; options: Record<string, string> };
  healthCheck?: { command: string[]; interval: number; timeout: number; retries: number; startPeriod: number };
  dependsOn?: { containerName: string; condition: "HEALTHY" | "START" }[];
  stopTimeout?: number;
}

export function containerDefinitions(args: ContainerArgs): ContainerDefinition[] {
  const nginxEnv: Record<string, string> = {
    AUTH_MODE: args.certificate.authMode,
    CERT_MODE: args.certificate.mode,
    AWS_REGION: args.region,
    UPSTREAM: `127.0.0.1:${PORTS.app}`,
    LISTEN: `0.0.0.0:${PORTS.tls}`,
    HEALTH_LISTEN: `0.0.0.0:${PORTS.health}`,
    UPSTREAM_TIMEOUT_SECONDS: String(args.upstreamTimeoutSeconds),
  };
  if (args.certificate.mode === "FROMS3") {
    if (!args.certificate.bucketName) throw new Error("FROMS3 mode needs the certificates bucket name");
    nginxEnv.CERT_BUCKET = args.certificate.bucketName;
  }

  const appEnv: Record<string, string> = {
    PORT: String(PORTS.app),
    HOST: "127.0.0.1",
    S3_BUCKET: args.dicomBucketName,
    AWS_REGION: args.region,
    PREFIX: args.app.prefix,
    LOGLEVEL: args.app.logLevel,
    RESPONSEDELAY: String(args.app.responseDelay),
    [UPLOAD_PART_SIZE_MIB.env]: String(args.upload.partSizeMiB),
    [UPLOAD_PART_CONCURRENCY.env]: String(args.upload.partConcurrency),
    [UPLOAD_INSTANCE_CONCURRENCY.env]: String(args.upload.instanceConcurrency),
    [MAX_INSTANCES_IN_FLIGHT.env]: String(args.upload.maxInstancesInFlight),
  };
  if (args.app.wadoUrl !== "") appEnv.WADOURL = args.app.wadoUrl;
  if (args.oidc) {
    // With these set the app also serves /metrics on 127.0.0.1:9464 only, out of nginx's reach.
    appEnv[OIDC_ISSUER_ENV] = args.oidc.issuer;
    appEnv[OIDC_AUDIENCE_ENV] = args.oidc.audience;
    appEnv[OIDC_REQUIRED_SCOPE_ENV] = args.oidc.requiredScope;
    appEnv[OIDC_ALGORITHMS_ENV] = args.oidc.algorithms.join(",");
  }

  const logging = (group: string, prefix: string) => ({
    logDriver: "awslogs" as const,
    options: { "awslogs-group": group, "awslogs-region": args.region, "awslogs-stream-prefix": prefix },
  });

  return [
    {
      name: "nginx",
      image: args.images.nginx,
      essential: true,
      environment: toKeyValues(nginxEnv),
      memory: NGINX_MEMORY_MIB,
      portMappings: [
        { containerPort: PORTS.tls, protocol: "tcp" },
        { containerPort: PORTS.health, protocol: "tcp" },
      ],
      ...(args.certificatesSha256 ? { dockerLabels: { [CERTIFICATES_LABEL]: args.certificatesSha256 } } : {}),
      logConfiguration: logging(args.logGroups.nginx, "nginx"),
      // Taking traffic before the app answers would only produce 502s.
      dependsOn: [{ containerName: "app", condition: "HEALTHY" }],
      // The image stops nginx with SIGQUIT, which lets in-flight uploads finish.
      stopTimeout: 60,
    },
    {
      name: "app",
      image: args.images.app,
      essential: true,
      environment: toKeyValues(appEnv),
      // A hard limit the upload settings were checked against (config/upload.ts, memory-budget.ts).
      memory: appMemoryMiB(args.taskMemoryMiB),
      portMappings: [],
      logConfiguration: logging(args.logGroups.app, "app"),
      // The app image is Node: its own runtime is the probe, no curl needed.
      healthCheck: {
        command: [
          "CMD",
          "node",
          "-e",
          `fetch('http://127.0.0.1:${PORTS.app}${LIVENESS_PATH}').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))`,
        ],
        interval: 15,
        timeout: 5,
        retries: 3,
        startPeriod: 15,
      },
      // Room for in-flight uploads to finish after SIGTERM.
      stopTimeout: 60,
    },
  ];
}

function toKeyValues(env: Record<string, string>): KeyValue[] {
  return Object.keys(env)
    .sort()
    .map((name) => ({ name, value: env[name] }));
}
