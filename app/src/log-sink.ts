// Where the log lines go: stdout, without ever holding up the process. When stdout is a pipe
// (a container's log driver, a supervisor), Node writes to it asynchronously and keeps what the
// reader has not taken yet in memory, so a reader that stalls (CloudWatch Logs slow, awslogs in
// blocking mode, a terminal pipe nobody reads) would make that grow without end, and a
// synchronous writer (pino's default) would block the event loop, shutdown included. Here the
// backlog is bounded: past it, lines are dropped and counted (stowrs_log_lines_dropped_total, and
// a line saying how many once the reader has caught up), and the last lines get a deadline.

/** What stdout may hold that its reader has not taken yet. */
export const LOG_BUFFER_BYTES = 1024 * 1024;

export interface LogSink {
  /** One log line (pino's destination interface); dropped, and counted, when the backlog is full. */
  write(line: string): void;
  /** Lines dropped so far. */
  dropped(): number;
  /** Resolves once everything written has reached the reader, or after `ms`: true when nothing is left. */
  flush(ms: number): Promise<boolean>;
}

export interface SinkOptions {
  maxBufferedBytes?: number;
  /** Fields of every line (the logger's base), for the line that reports dropped ones. */
  base?: Record<string, unknown>;
}

type Out = Pick<NodeJS.WritableStream, "write" | "on"> & { writableLength: number };

export function createLogSink(out: Out = process.stdout, options: SinkOptions = {}): LogSink {
  const max = options.maxBufferedBytes ?? LOG_BUFFER_BYTES;
  let dropped = 0;
  /** Dropped since the last report of it. */
  let unreported = 0;
  /** The reader went away (EPIPE) or the stream failed: nothing more can be written. */
  let broken = false;
  out.on("error", () => {
    broken = true;
  });

  const send = (line: string) => {
    try {
      out.write(line);
    } catch {
      broken = true;
    }
  };

  return {
    write(line: string) {
      if (broken || out.writableLength > max) {
        dropped += 1;
        unreported += 1;
        return;
      }
      // The reader has caught up again (half the backlog gone): say what it missed.
      if (unreported > 0 && out.writableLength < max / 2) {
        send(JSON.stringify({ level: "warn", time: new Date().toISOString(), ...options.base, linesDropped: unreported, msg: "log lines dropped: stdout was not being read" }) + "\n");
        unreported = 0;
      }
      send(line);
    },
    dropped: () => dropped,
    async flush(ms: number) {
      // Polled: 'drain' comes only after a write was refused, not whenever the backlog empties.
      const deadline = Date.now() + ms;
      while (!broken && out.writableLength > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      return !broken && out.writableLength === 0;
    },
  };
}
