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
import type { AppSettings, CertificateConfig, OidcConfig, StackConfig, UploadSettings } from "./config";
import { drainTimings } from "./drain";
import { appMemoryMiB, NGINX_MEMORY_MIB } from "./memory-budget";

/** The body-rate settings both containers read (CONTRACT.md; the app declares them in config-limits.ts). */
export const BODY_MIN_BYTES_PER_SECOND_ENV = "BODY_MIN_BYTES_PER_SECOND";
export const BODY_RATE_WINDOW_SECONDS_ENV = "BODY_RATE_WINDOW_SECONDS";

export const PORTS = {
  /** nginx: TLS (or mTLS) from the NLB. */
  tls: 443,
  /** nginx: plain HTTP for the NLB's target health check (and /ready for operators). */
  health: 8081,
  /** app: loopback only, reachable through nginx alone. */
  app: 8080,
  /** app: GET /metrics, on loopback only in every mode, so never through nginx's public port. */
  metrics: 9464,
} as const;

/** The app's readiness: S3 reachable. For operators and alarms, not for the load balancer. */
export const READY_PATH = "/ready";
/** The app's liveness: the process answers. Its container health check. */
export const LIVENESS_PATH = "/health";
/**
 * What the NLB's target health check asks nginx's health port: nginx proxies it to the app's
 * LIVENESS_PATH, so it answers 200 when nginx and the app both take requests, and never
 * waits on S3 (a slow S3 must not make every target unhealthy at once).
 */
export const TARGET_HEALTH_PATH = "/live";

/** Where nginx renders its configuration, certificates, temp files and pid (the image's OUT_DIR). */
export const NGINX_OUT_DIR = "/run/front";

/**
 * Writable paths of each container. Both run with a read-only root file system; each of
 * these is a task volume (Fargate: an empty bind mount on the task's ephemeral storage),
 * declared VOLUME in its Dockerfile so Fargate copies the image's ownership onto it.
 */
export const WRITABLE_PATHS: Record<"app" | "nginx", { volume: string; path: string }[]> = {
  // OUT_DIR: everything nginx and nginx/render write, and nothing else (nginx/lib/layout.js,
  // nginx/read-only-root.test.ts).
  nginx: [{ volume: "nginx-out", path: NGINX_OUT_DIR }],
  // With S3_BUCKET set the app writes no files (DATA_DIR is the embedded store's, unused); /tmp for Node.
  app: [{ volume: "app-tmp", path: "/tmp" }],
};

/** Where the SSM agent of ECS Exec writes; writable volumes only when exec is on (the root stays read-only). */
export const EXEC_AGENT_PATHS = ["/var/lib/amazon", "/var/log/amazon"];

/**
 * awslogs never blocks the containers' stdout: when CloudWatch Logs stalls, lines beyond the
 * buffer are dropped instead of stopping the process (a blocked stdout turns every stop
 * into a SIGKILL).
 */
export const LOG_BUFFER_SIZE = "25m";

/** Docker label carrying the digest of the certificate objects: a new digest is a new task definition. */
export const CERTIFICATES_LABEL = "stowrs-to-s3.certificates-sha256";

/** What the front enforces per client (CONTRACT: MAX_CONNECTIONS_PER_CLIENT, CRL_REQUIRED, ALLOWED_CLIENT_SUBJECTS). */
export interface FrontSettings {
  /** Simultaneous connections per client certificate subject (or address); 0 = no limit. */
  maxConnectionsPerClient: number;
  /** nginx refuses to start without a parsable crl.pem beside truststore.crt. */
  crlRequired: boolean;
  /** Exact subject DNs allowed in; empty: any certificate chaining to the truststore. */
  allowedClientSubjects: string[];
}

/** The app and nginx cut request bodies slower than this on average over the window. */
export interface BodyRate {
  minBytesPerSecond: number;
  windowSeconds: number;
}

/** How the containers treat senders and how they stop: from stack config (app, front, certificate, fargate blocks). */
export interface ContainerBehaviour {
  /** What the app does with an instance whose key is taken (DUPLICATE_POLICY). */
  duplicatePolicy: "overwrite" | "reject";
  bodyRate: BodyRate;
  front: FrontSettings;
  /** fargate.drainSeconds: stop timeouts and the graceful shutdown bound derive from it (drain.ts). */
  drainSeconds: number;
  /** ECS Exec: the agent needs writable paths of its own. */
  executeCommand: boolean;
}

/** What the containers' behaviour takes from the stack configuration. */
export function containerBehaviour(config: Pick<StackConfig, "app" | "front" | "certificateOptions" | "fargate">): ContainerBehaviour {
  return {
    duplicatePolicy: config.app.duplicatePolicy,
    bodyRate: { minBytesPerSecond: config.app.bodyMinBytesPerSecond, windowSeconds: config.app.bodyRateWindowSeconds },
    front: {
      maxConnectionsPerClient: config.front.maxConnectionsPerClient,
      crlRequired: config.certificateOptions.crlRequired,
      allowedClientSubjects: config.certificateOptions.allowedClientSubjects,
    },
    drainSeconds: config.fargate.drainSeconds,
    executeCommand: config.fargate.enableExecuteCommand,
  };
}

export interface ContainerArgs extends ContainerBehaviour {
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
type MountPoint = { sourceVolume: string; containerPath: string; readOnly: false };

export interface ContainerDefinition {
  name: string;
  image: string;
  essential: boolean;
  environment: KeyValue[];
  memory: number;
  portMappings: { containerPort: number; protocol: "tcp" }[];
  dockerLabels?: Record<string, string>;
  readonlyRootFilesystem: true;
  mountPoints: MountPoint[];
  linuxParameters?: { initProcessEnabled: true };
  logConfiguration: { logDriver: "awslogs"; options: Record<string, string> };
  healthCheck?: { command: string[]; interval: number; timeout: number; retries: number; startPeriod: number };
  dependsOn?: { containerName: string; condition: "HEALTHY" | "START" }[];
  stopTimeout?: number;
}

export function containerDefinitions(args: ContainerArgs): ContainerDefinition[] {
  const drain = drainTimings(args.drainSeconds);
  const bodyRate = {
    [BODY_MIN_BYTES_PER_SECOND_ENV]: String(args.bodyRate.minBytesPerSecond),
    [BODY_RATE_WINDOW_SECONDS_ENV]: String(args.bodyRate.windowSeconds),
  };
  const nginxEnv: Record<string, string> = {
    AUTH_MODE: args.certificate.authMode,
    CERT_MODE: args.certificate.mode,
    AWS_REGION: args.region,
    OUT_DIR: NGINX_OUT_DIR,
    UPSTREAM: `127.0.0.1:${PORTS.app}`,
    LISTEN: `0.0.0.0:${PORTS.tls}`,
    HEALTH_LISTEN: `0.0.0.0:${PORTS.health}`,
    UPSTREAM_TIMEOUT_SECONDS: String(args.upstreamTimeoutSeconds),
    SHUTDOWN_TIMEOUT_SECONDS: String(drain.shutdownTimeoutSeconds),
    MAX_CONNECTIONS_PER_CLIENT: String(args.front.maxConnectionsPerClient),
    ...bodyRate,
  };
  if (args.certificate.mode === "FROMS3") {
    if (!args.certificate.bucketName) throw new Error("FROMS3 mode needs the certificates bucket name");
    nginxEnv.CERT_BUCKET = args.certificate.bucketName;
  }
  const clientCertificates = args.certificate.authMode === "clientauth" || args.certificate.authMode === "clientauth+oidc";
  if (clientCertificates) {
    nginxEnv.CRL_REQUIRED = String(args.front.crlRequired);
    if (args.front.allowedClientSubjects.length > 0) nginxEnv.ALLOWED_CLIENT_SUBJECTS = JSON.stringify(args.front.allowedClientSubjects);
  } else if (args.front.crlRequired || args.front.allowedClientSubjects.length > 0) {
    throw new Error(`a CRL and allowed client subjects need client certificates; authMode is ${args.certificate.authMode}`);
  }

  const appEnv: Record<string, string> = {
    PORT: String(PORTS.app),
    HOST: "127.0.0.1",
    // /metrics on a loopback listener of its own in every mode: nginx proxies PORT only.
    METRICS_PORT: String(PORTS.metrics),
    METRICS_HOST: "127.0.0.1",
    S3_BUCKET: args.dicomBucketName,
    AWS_REGION: args.region,
    PREFIX: args.app.prefix,
    LOGLEVEL: args.app.logLevel,
    RESPONSEDELAY: String(args.app.responseDelay),
    DUPLICATE_POLICY: args.duplicatePolicy,
    SHUTDOWN_TIMEOUT_SECONDS: String(drain.shutdownTimeoutSeconds),
    [UPLOAD_PART_SIZE_MIB.env]: String(args.upload.partSizeMiB),
    [UPLOAD_PART_CONCURRENCY.env]: String(args.upload.partConcurrency),
    [UPLOAD_INSTANCE_CONCURRENCY.env]: String(args.upload.instanceConcurrency),
    [MAX_INSTANCES_IN_FLIGHT.env]: String(args.upload.maxInstancesInFlight),
    ...bodyRate,
  };
  if (args.app.wadoUrl !== "") appEnv.WADOURL = args.app.wadoUrl;
  if (args.oidc) {
    appEnv[OIDC_ISSUER_ENV] = args.oidc.issuer;
    appEnv[OIDC_AUDIENCE_ENV] = args.oidc.audience;
    appEnv[OIDC_REQUIRED_SCOPE_ENV] = args.oidc.requiredScope;
    appEnv[OIDC_ALGORITHMS_ENV] = args.oidc.algorithms.join(",");
  }

  const logging = (group: string, prefix: string) => ({
    logDriver: "awslogs" as const,
    options: {
      "awslogs-group": group,
      "awslogs-region": args.region,
      "awslogs-stream-prefix": prefix,
      mode: "non-blocking",
      "max-buffer-size": LOG_BUFFER_SIZE,
    },
  });
  const mounts = (container: "app" | "nginx"): MountPoint[] => [
    ...WRITABLE_PATHS[container].map((w) => ({ sourceVolume: w.volume, containerPath: w.path, readOnly: false as const })),
    ...(args.executeCommand ? EXEC_AGENT_PATHS.map((path) => ({ sourceVolume: execVolume(container, path), containerPath: path, readOnly: false as const })) : []),
  ];
  // ECS Exec's agent starts child processes; an init process reaps them.
  const exec = args.executeCommand ? { linuxParameters: { initProcessEnabled: true as const } } : {};

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
      readonlyRootFilesystem: true,
      mountPoints: mounts("nginx"),
      ...exec,
      logConfiguration: logging(args.logGroups.nginx, "nginx"),
      // Taking traffic before the app answers would only produce 502s.
      dependsOn: [{ containerName: "app", condition: "HEALTHY" }],
      // nginx stops gracefully on ECS's SIGTERM, within SHUTDOWN_TIMEOUT_SECONDS (drain.ts).
      stopTimeout: drain.stopTimeoutSeconds,
    },
    {
      name: "app",
      image: args.images.app,
      essential: true,
      environment: toKeyValues(appEnv),
      // A hard limit the upload settings were checked against (config/upload.ts, memory-budget.ts).
      memory: appMemoryMiB(args.taskMemoryMiB),
      portMappings: [],
      readonlyRootFilesystem: true,
      mountPoints: mounts("app"),
      ...exec,
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
      // Room for in-flight uploads to finish after SIGTERM (drain.ts).
      stopTimeout: drain.stopTimeoutSeconds,
    },
  ];
}

/** The task's volumes: one empty, task-local volume per writable path of each container. */
export function taskVolumes(executeCommand: boolean): { name: string }[] {
  const names = (["nginx", "app"] as const).flatMap((c) => [
    ...WRITABLE_PATHS[c].map((w) => w.volume),
    ...(executeCommand ? EXEC_AGENT_PATHS.map((path) => execVolume(c, path)) : []),
  ]);
  return names.map((name) => ({ name }));
}

function execVolume(container: "app" | "nginx", path: string): string {
  return `${container}-exec${path.replaceAll("/", "-")}`;
}

function toKeyValues(env: Record<string, string>): KeyValue[] {
  return Object.keys(env)
    .sort()
    .map((name) => ({ name, value: env[name] }));
}
