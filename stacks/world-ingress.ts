// An endpoint that anyone on the internet may write PHI into is almost always a mistake:
// allowedPeers with 0.0.0.0/0 and no authentication (authMode anonymous). Plan and preview
// warn about it; `pulumi up` refuses it unless allowWorldIngress says it is meant.
import * as pulumi from "@pulumi/pulumi";
import { ConfigError, NAMESPACE, type AuthMode } from "./config";

export interface WorldIngressConfig {
  allowedPeers: string[];
  certificate: { authMode: AuthMode };
  allowWorldIngress: boolean;
}

/** The problem, in words, or undefined when there is none. */
export function worldIngressProblem(config: WorldIngressConfig): string | undefined {
  const world = config.allowedPeers.filter((peer) => peer.endsWith("/0"));
  if (world.length === 0 || config.certificate.authMode !== "anonymous") return undefined;
  return (
    `${NAMESPACE}:allowedPeers: ${world.join(", ")} with certificate.authMode anonymous lets anyone on the internet store ` +
    `instances into the DICOM bucket; list the senders' addresses, require client certificates or tokens, ` +
    `or set ${NAMESPACE}:allowWorldIngress true if that is really meant`
  );
}

/** Warns in a preview (and the offline plan); throws in an update, unless allowWorldIngress is set. */
export function guardWorldIngress(config: WorldIngressConfig, dryRun = pulumi.runtime.isDryRun()): void {
  const problem = worldIngressProblem(config);
  if (!problem) return;
  if (config.allowWorldIngress) {
    pulumi.log.warn(`${NAMESPACE}:allowedPeers: open to the whole internet without authentication (allowWorldIngress is true)`);
    return;
  }
  if (!dryRun) throw new ConfigError([problem]);
  pulumi.log.warn(`${problem} (pulumi up refuses it)`);
}
