/** Runs tasks one at a time, in arrival order: two actions never drive PostgreSQL at once. */
export class ActionLock {
  private tail: Promise<unknown> = Promise.resolve();
  private waiting = 0;

  run<T>(task: () => Promise<T>): Promise<T> {
    this.waiting += 1;
    const next = this.tail.then(task, task);
    const settle = () => {
      this.waiting -= 1;
    };
    this.tail = next.then(settle, settle);
    return next;
  }

  /** Tasks queued or running. */
  get busy(): number {
    return this.waiting;
  }
}
