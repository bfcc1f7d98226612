/** A counting semaphore with FIFO waiters. */
export class Semaphore {
  private waiters: Array<() => void> = [];
  private used = 0;

  constructor(readonly capacity: number) {}

  get inUse(): number {
    return this.used;
  }

  tryAcquire(): boolean {
    if (this.used >= this.capacity) return false;
    this.used += 1;
    return true;
  }

  acquire(): Promise<void> {
    if (this.tryAcquire()) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  release(): void {
    const next = this.waiters.shift();
    // Hand the slot straight to the next waiter so that a burst of tryAcquire() cannot overtake it.
    if (next) next();
    else this.used -= 1;
  }
}
