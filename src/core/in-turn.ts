/**
 * Runs asynchronous work one call at a time, in call order: each call
 * starts once every call before it has settled, whether it succeeded or
 * failed. For read-then-write work that must not interleave with itself
 * (key changes, policy activations, a log's appends).
 */
export class InTurn {
  private tail: Promise<unknown> = Promise.resolve();

  /** Runs `work` after every call before it; settles as `work` does. */
  run<T>(work: () => Promise<T>): Promise<T> {
    const run = this.tail.then(work, work);
    this.tail = run.catch(() => undefined);
    return run;
  }

  /** Settles once every call made so far has settled; never rejects. */
  idle(): Promise<void> {
    return this.tail.then(() => undefined);
  }
}
