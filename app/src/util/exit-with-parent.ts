// For a server that runs as a child process of another (the embedded store, the benchmarks'
// null S3 sink): it stops on SIGTERM and SIGINT, and also when its parent goes, even by SIGKILL,
// so that no store is left listening behind a test or a benchmark.

/** Calls `close` (which calls back once closed) and exits on a signal or the end of stdin; exits anyway 2 s later. */
export function exitWithParent(close: (done: () => void) => void): void {
  const stop = () => {
    close(() => process.exit(0));
    setTimeout(() => process.exit(0), 2000).unref();
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  // The parent holds our stdin open; when it dies the pipe closes and we follow.
  process.stdin.on("end", stop);
  process.stdin.on("error", stop);
  process.stdin.resume();
}
