// What the rehearsal takes from a recorded plan: the task's containers, the target group's
// health check, the listener, and the buckets and objects the stack writes.
import type { ContainerDefinition } from "../containers";
import type { RecordedResource, RecordedStack } from "../offline/record";

export interface PlannedTask {
  containers: ContainerDefinition[];
  healthCheck: {
    protocol: string;
    port: number;
    path: string;
    matcher: string;
    intervalSeconds: number;
    timeoutSeconds: number;
    healthyThreshold: number;
  };
  listener: { protocol: string; port: number };
  /** How long the NLB keeps a deregistered target's connections before ECS stops the task (AWS default 300). */
  deregistrationDelaySeconds: number;
  /** Every bucket the stack makes or names, by physical name. */
  buckets: string[];
  /** Objects the stack writes: bucket, key, content. */
  objects: { bucket: string; key: string; content: string }[];
  outputs: Record<string, any>;
}

export class PlanShapeError extends Error {}

function only(resources: RecordedResource[], type: string): RecordedResource {
  const found = resources.filter((r) => r.type === type);
  if (found.length !== 1) throw new PlanShapeError(`the plan has ${found.length} ${type}, expected one`);
  return found[0];
}

export function plannedTask(recorded: RecordedStack): PlannedTask {
  const { resources, outputs } = recorded;
  const task = only(resources, "aws:ecs/taskDefinition:TaskDefinition").inputs as Record<string, any>;
  const containers = JSON.parse(String(task.containerDefinitions)) as ContainerDefinition[];
  const tg = only(resources, "aws:lb/targetGroup:TargetGroup").inputs as Record<string, any>;
  const listener = only(resources, "aws:lb/listener:Listener").inputs as Record<string, any>;
  const hc = tg.healthCheck ?? {};
  const objects = resources
    .filter((r) => r.type === "aws:s3/bucketObjectv2:BucketObjectv2")
    .map((r) => {
      const i = r.inputs as Record<string, any>;
      return { bucket: String(i.bucket), key: String(i.key), content: String(i.content) };
    });
  const buckets = resources.filter((r) => r.type === "aws:s3/bucket:Bucket").map((r) => r.id);
  // An external certificate bucket is named, not made.
  const certBucket = outputs.certificatesBucketName;
  if (outputs.certificateMode === "FROMS3" && typeof certBucket === "string" && !buckets.includes(certBucket)) buckets.push(certBucket);
  return {
    containers,
    healthCheck: {
      protocol: String(hc.protocol ?? "TCP"),
      port: Number(hc.port ?? tg.port),
      path: String(hc.path ?? "/"),
      matcher: String(hc.matcher ?? "200"),
      intervalSeconds: Number(hc.interval ?? 30),
      timeoutSeconds: Number(hc.timeout ?? 5),
      healthyThreshold: Number(hc.healthyThreshold ?? 3),
    },
    listener: { protocol: String(listener.protocol), port: Number(listener.port) },
    deregistrationDelaySeconds: Number(tg.deregistrationDelay ?? 300),
    buckets,
    objects,
    outputs,
  };
}
