// Concurrent clients: a fixed number of workers, each doing one thing at a time.

/** Workers take items from a shared queue until it is empty; resolves with the wall time in ms. */
export async function drainQueue<T>(items: readonly T[], workers: number, work: (item: T) => Promise<void>): Promise<number> {
  const started = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < items.length) await work(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(workers, items.length) }, worker));
  return performance.now() - started;
}

/** Workers repeat their work until `ms` have passed (each finishes what it started); resolves with the wall time. */
export async function repeatFor(ms: number, workers: number, work: (worker: number) => Promise<void>): Promise<number> {
  const started = performance.now();
  const deadline = started + ms;
  const worker = async (id: number) => {
    while (performance.now() < deadline) await work(id);
  };
  await Promise.all(Array.from({ length: workers }, (_, i) => worker(i)));
  return performance.now() - started;
}
