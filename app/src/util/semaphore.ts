/** One slot taken from a Semaphore. Whoever holds it gives it back; a second release() does nothing. */
export interface Permit {
  release(): void;
}

/** A counting semaphore with FIFO waiters, handing out slots as permits. */
export class Semaphore {
  private waiters: Array<(permit: Permit) => void> = [];
  private used = 0;

  constructor(readonly capacity: number) {}

  get inUse(): number {
    return this.used;
  }

  /** A permit if a slot is free now, else null. */
  tryAcquire(): Permit | null {
    if (this.used >= this.capacity) return null;
    this.used += 1;
    return this.permit();
  }

  acquire(): Promise<Permit> {
    const permit = this.tryAcquire();
    if (permit) return Promise.resolve(permit);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private permit(): Permit {
    let held = true;
    return {
      release: () => {
        if (!held) return;
        held = false;
        const next = this.waiters.shift();
        // Hand the slot straight to the next waiter so that a burst of tryAcquire() cannot overtake it.
        if (next) next(this.permit());
        else this.used -= 1;
      },
    };
  }
}
