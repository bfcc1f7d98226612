// fargate: the task size and how many tasks run (autoscaling between minTasks and maxTasks).
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
}

const defaults = {
  fargate: { cpu: 512, memory: 1024, taskCount: 1 },
};

export const fargateBlock = defineBlock({
  keys: ["fargate"],
  defaults,
  read(r): { fargate: FargateConfig } {
    const key = "fargate";
    const fields = r.object(key, r.raw(key), `{ cpu: 512, memory: 1024, taskCount: 1 }`) ?? {};
    r.unknownFields(key, fields, ["cpu", "memory", "taskCount", "minTasks", "maxTasks"]);
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
    return { fargate: { cpu, memory, taskCount, minTasks, maxTasks } };
  },
});
