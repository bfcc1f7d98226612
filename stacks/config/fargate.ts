// fargate: the task size and how many tasks run (autoscaling between minTasks and maxTasks).
import { DRAIN_SECONDS } from "../drain";
import { describeFargateSizes, isValidFargateSize } from "../fargate";
import { defineBlock } from "./block";

export interface FargateConfig {
  /** CPU units of the task (both containers). @default 512 */
  cpu: number;
  /** Task memory in MiB; with cpu, a Fargate size. @default 1024 */
  memory: number;
  /** Tasks the service starts with. @default 1 */
  taskCount: number;
  /** Autoscaling floor. @default taskCount */
  minTasks: number;
  /** Autoscaling ceiling. @default max(taskCount, minTasks) */
  maxTasks: number;
  /**
   * Seconds a stopping task drains (15-120; Fargate's stop timeout is at most 120): the NLB's
   * deregistration delay, both containers' stopTimeout, and SHUTDOWN_TIMEOUT_SECONDS of the
   * app and nginx (10 s less). See drain.ts. @default 60
   */
  drainSeconds: number;
  /** ECS Exec into the running containers (`aws ecs execute-command`), with the SSM permissions it needs. @default false */
  enableExecuteCommand: boolean;
}

const defaults = {
  fargate: { cpu: 512, memory: 1024, taskCount: 1, drainSeconds: DRAIN_SECONDS.default as number, enableExecuteCommand: false },
};

export const fargateBlock = defineBlock({
  keys: ["fargate"],
  defaults,
  read(r): { fargate: FargateConfig } {
    const key = "fargate";
    const fields = r.object(key, r.raw(key), `{ cpu: 512, memory: 1024, taskCount: 1 }`) ?? {};
    r.unknownFields(key, fields, ["cpu", "memory", "taskCount", "minTasks", "maxTasks", "drainSeconds", "enableExecuteCommand"]);
    const d = defaults.fargate;
    const cpu = r.integer(key, "cpu", fields.cpu, d.cpu, 256, 16384);
    const memory = r.integer(key, "memory", fields.memory, d.memory, 512, 122880);
    if (!isValidFargateSize(cpu, memory)) {
      r.report(key, `cpu ${cpu} with memory ${memory} is not a Fargate size; valid pairs: ${describeFargateSizes(cpu)}`);
    }
    const taskCount = r.integer(key, "taskCount", fields.taskCount, d.taskCount, 1, 100);
    const minTasks = r.integer(key, "minTasks", fields.minTasks, taskCount, 1, 100);
    const maxTasks = r.integer(key, "maxTasks", fields.maxTasks, Math.max(taskCount, minTasks), 1, 100);
    if (minTasks > taskCount || taskCount > maxTasks) {
      r.report(key, `needs minTasks <= taskCount <= maxTasks, got ${minTasks} <= ${taskCount} <= ${maxTasks}`);
    }
    const drainSeconds = r.integer(key, "drainSeconds", fields.drainSeconds, d.drainSeconds, DRAIN_SECONDS.min, DRAIN_SECONDS.max);
    let enableExecuteCommand = d.enableExecuteCommand;
    const exec = fields.enableExecuteCommand;
    if (exec === true || exec === "true") enableExecuteCommand = true;
    else if (exec !== undefined && exec !== false && exec !== "false") r.report(key, `enableExecuteCommand must be true or false, got ${JSON.stringify(exec)}`);
    return { fargate: { cpu, memory, taskCount, minTasks, maxTasks, drainSeconds, enableExecuteCommand } };
  },
});
