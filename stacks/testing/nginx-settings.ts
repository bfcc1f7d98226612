// nginx's own settings parser (plain JavaScript), typed for the stack's tests.
// @ts-ignore -- nginx/lib is JavaScript checked by its own tsconfig, without declaration files
import { readSettings as readNginxSettings } from "../../nginx/lib/settings.js";

export interface NginxSettings {
  authMode: "anonymous" | "clientauth" | "oidc" | "clientauth+oidc";
  clientCertificates: boolean;
  bearerTokens: boolean;
  certMode: "FROMS3" | "ACM";
  certBucket: string | undefined;
  certPrefix: string;
  upstream: { host: string; port: number };
  listen: { host: string; port: number };
  healthListen: { host: string; port: number };
  upstreamTimeoutSeconds: number;
  outDir: string;
  maxConnectionsPerClient: number;
  bodyRateWindowSeconds: number;
  shutdownTimeoutSeconds: number;
  crlRequired: boolean;
  allowedClientSubjects: string[];
  s3: { endpoint?: string; forcePathStyle: boolean; region?: string };
}

export const readSettings: (env: Record<string, string | undefined>) => NginxSettings = readNginxSettings;
