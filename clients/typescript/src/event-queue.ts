// An unbounded single-consumer queue read with `for await`. Exec events are
// pushed from notification handlers (which cannot wait) and taken at the
// consumer's pace; nothing is dropped.

export class EventQueue<T> implements AsyncIterable<T> {
  private readonly items: T[] = [];
  private waiting: ((result: IteratorResult<T>) => void) | null = null;
  private failWaiting: ((error: unknown) => void) | null = null;
  private ended = false;
  private failure: unknown = undefined;
  private consumed = false;

  constructor(private readonly what: string) {}

  push(item: T): void {
    if (this.ended) return;
    if (this.waiting) {
      const resolve = this.waiting;
      this.clearWaiting();
      resolve({ value: item, done: false });
    } else {
      this.items.push(item);
    }
  }

  /** Ends the queue: the consumer gets what is queued, then done (or `error`, if given). */
  end(error?: unknown): void {
    if (this.ended) return;
    this.ended = true;
    this.failure = error;
    if (this.waiting && this.failWaiting) {
      const [resolve, reject] = [this.waiting, this.failWaiting];
      this.clearWaiting();
      if (error === undefined) resolve({ value: undefined, done: true });
      else reject(error);
    }
  }

  get size(): number {
    return this.items.length;
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    if (this.consumed) {
      throw new Error(`${this.what} can be iterated only once (it is a stream, not a list); keep what you need from the first loop`);
    }
    this.consumed = true;
    return {
      next: () => this.next(),
      return: async () => {
        // The consumer stopped early: drop what is queued and what comes.
        this.items.length = 0;
        this.ended = true;
        return { value: undefined, done: true };
      },
    };
  }

  private next(): Promise<IteratorResult<T>> {
    if (this.items.length) return Promise.resolve({ value: this.items.shift() as T, done: false });
    if (this.ended) {
      return this.failure === undefined
        ? Promise.resolve({ value: undefined, done: true })
        : Promise.reject(this.failure);
    }
    return new Promise((resolve, reject) => {
      this.waiting = resolve;
      this.failWaiting = reject;
    });
  }

  private clearWaiting(): void {
    this.waiting = null;
    this.failWaiting = null;
  }
}
