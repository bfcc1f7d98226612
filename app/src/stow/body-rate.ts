// Slow request bodies (BODY_MIN_BYTES_PER_SECOND over BODY_RATE_WINDOW_SECONDS): a client that
// delivers its body slower than the minimum is cut off, so that a few connections sending a byte
// now and then cannot hold the service's capacity. Only the time the service spends waiting for
// the client counts: while an upload holds reading back (S3 slow, all slots of the request busy),
// the client is not asked for anything and is not blamed for sending nothing.

export class BodyTooSlow extends Error {
  constructor(
    readonly minBytesPerSecond: number,
    readonly windowSeconds: number,
  ) {
    super(`the request body arrived slower than ${minBytesPerSecond} bytes per second over ${windowSeconds} s (BODY_MIN_BYTES_PER_SECOND, BODY_RATE_WINDOW_SECONDS)`);
    this.name = "BodyTooSlow";
  }
}

export interface BodyRateLimit {
  minBytesPerSecond: number;
  windowMs: number;
}

/** Arrivals are kept in this many slots per window: memory stays small whatever the chunk sizes. */
const SLOTS_PER_WINDOW = 32;

/**
 * The rule, on the clock of waiting time: over any window's worth of waiting (after the first),
 * at least minBytesPerSecond x window bytes arrived. Arrivals in the same 1/32 of a window count
 * as arriving together at the latest of them, which errs on the client's side by at most that much.
 */
export class ArrivalRate {
  /** Waiting time (ms) before the read now waiting. */
  private waited = 0;
  private received = 0;
  /** Total bytes received by waiting time `at`, oldest first; only those still able to matter. */
  private arrivals: Array<{ at: number; total: number; slot: number }> = [];
  private readonly bytesPerWindow: number;
  private readonly slotMs: number;

  constructor(private readonly limit: BodyRateLimit) {
    this.bytesPerWindow = (limit.minBytesPerSecond * limit.windowMs) / 1000;
    this.slotMs = limit.windowMs / SLOTS_PER_WINDOW;
  }

  /** A read that waited `ms` brought `bytes`. */
  arrived(ms: number, bytes: number): void {
    this.waited += ms;
    this.received += bytes;
    const slot = Math.floor(this.waited / this.slotMs);
    const last = this.arrivals.at(-1);
    if (last && last.slot === slot) {
      last.at = this.waited;
      last.total = this.received;
    } else this.arrivals.push({ at: this.waited, total: this.received, slot });
    // Arrivals this far back can no longer make a window short: drop them.
    const floor = this.received - this.bytesPerWindow;
    let drop = 0;
    while (drop < this.arrivals.length - 1 && this.arrivals[drop]!.total <= floor) drop += 1;
    if (drop) this.arrivals.splice(0, drop);
  }

  /** A read that waited `ms` and is still waiting (or ended without bytes). */
  waitedWithoutBytes(ms: number): void {
    this.waited += ms;
  }

  /**
   * How long (ms) the next read may wait for bytes before the window falls short. The window
   * ending at waiting time t holds the bytes that came after t - window; it falls short once
   * the bytes up to t - window are more than received - bytesPerWindow, i.e. a window after the
   * first arrival that took the total past that.
   */
  patienceMs(): number {
    const floor = this.received - this.bytesPerWindow;
    const first = floor < 0 ? undefined : this.arrivals.find((a) => a.total > floor);
    const deadline = (first?.at ?? 0) + this.limit.windowMs;
    return Math.max(0, deadline - this.waited);
  }
}

/**
 * The body as the part readers pull it, each pull timed: one that has waited longer than the
 * rule allows fails with BodyTooSlow (and every later one too). limit.minBytesPerSecond 0: unchanged.
 */
export function rateLimitedBody(source: AsyncIterator<Uint8Array>, limit: BodyRateLimit, now: () => number = () => performance.now()): AsyncIterator<Uint8Array> {
  if (limit.minBytesPerSecond <= 0) return source;
  const rate = new ArrivalRate(limit);
  let cut: BodyTooSlow | undefined;
  return {
    async next(): Promise<IteratorResult<Uint8Array>> {
      if (cut) throw cut;
      const started = now();
      let timer: NodeJS.Timeout | undefined;
      const pending = source.next();
      const tooSlow = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject((cut = new BodyTooSlow(limit.minBytesPerSecond, limit.windowMs / 1000))), rate.patienceMs());
      });
      try {
        const result = await Promise.race([pending, tooSlow]);
        if (result.done) rate.waitedWithoutBytes(now() - started);
        else rate.arrived(now() - started, result.value.byteLength);
        return result;
      } catch (err) {
        // The read left behind settles when the connection goes; nobody waits for it.
        if (err === cut) pending.catch(() => undefined);
        throw err;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}
