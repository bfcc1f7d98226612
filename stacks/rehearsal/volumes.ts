// What the rehearsal can say about the planned read-only root file systems: every path a
// container writes must lie on one of its volumes (a read-only root refuses the rest). The
// rehearsal then gives each such path a temp directory of its own on this machine.
// (That nginx writes nothing outside OUT_DIR is proved with / really read-only in
// nginx/read-only-root.test.ts.)
import type { ContainerDefinition } from "../containers";

export interface WrittenPath {
  container: string;
  /** What the path is to the container (OUT_DIR, TMPDIR, DATA_DIR). */
  label: string;
  path: string;
  /** The volume it lies on, if any. */
  volume?: string;
}

/** The paths each container writes, from its environment (the image's ENV under the task's). */
export function writtenPaths(container: ContainerDefinition, env: Record<string, string>): WrittenPath[] {
  const paths: { label: string; path: string }[] = [];
  if (container.name === "nginx") paths.push({ label: "OUT_DIR", path: env.OUT_DIR ?? "" });
  if (container.name === "app") {
    paths.push({ label: "TMPDIR", path: env.TMPDIR ?? "/tmp" });
    // Without a bucket the app runs its embedded store under DATA_DIR.
    if (!env.S3_BUCKET) paths.push({ label: "DATA_DIR", path: env.DATA_DIR ?? ".data" });
  }
  return paths.map(({ label, path }) => {
    const mount = (container.mountPoints ?? []).find((m) => path === m.containerPath || path.startsWith(`${m.containerPath}/`));
    return { container: container.name, label, path, ...(mount ? { volume: mount.sourceVolume } : {}) };
  });
}

/** Problems a read-only root would cause: a written path that is on no volume. */
export function readOnlyRootProblems(container: ContainerDefinition, env: Record<string, string>): string[] {
  if (container.readonlyRootFilesystem !== true) return [];
  return writtenPaths(container, env)
    .filter((p) => p.volume === undefined)
    .map((p) => `${p.container} writes ${p.label}=${p.path || "(unset)"}, which is on its read-only root file system, not on one of its volumes`);
}
