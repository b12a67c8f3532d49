// A one-reader async queue: the scheduler pushes chunks as tokens are sampled, the caller reads
// them with for-await at its own pace. Breaking out of the loop (return()) tells the engine, which
// aborts the request and frees its row; a failure is thrown to the reader after what was queued.
export class ChunkChannel<T> implements AsyncIterable<T> {
  private readonly buffered: T[] = [];
  private reader: { resolve: (result: IteratorResult<T>) => void; reject: (error: unknown) => void } | undefined;
  private closed = false;
  private failure: { error: unknown } | undefined;
  private iterated = false;

  constructor(private readonly onReaderGone: () => void) {}

  push(value: T): void {
    if (this.closed) return;
    if (this.reader) {
      this.takeReader().resolve({ value, done: false });
      return;
    }
    this.buffered.push(value);
  }

  end(): void {
    if (this.closed) return;
    this.closed = true;
    this.reader && this.takeReader().resolve({ value: undefined, done: true });
  }

  fail(error: unknown): void {
    if (this.closed) return;
    this.closed = true;
    this.failure = { error };
    this.reader && this.takeReader().reject(error);
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    if (this.iterated) throw new TypeError("a completion's chunks can be iterated only once");
    this.iterated = true;
    return {
      next: () => {
        const value = this.buffered.shift();
        if (value !== undefined) return Promise.resolve({ value, done: false });
        if (this.failure) return Promise.reject(this.failure.error);
        if (this.closed) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve, reject) => (this.reader = { resolve, reject }));
      },
      return: () => {
        this.buffered.length = 0;
        if (!this.closed) {
          this.closed = true;
          this.onReaderGone();
        }
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }

  private takeReader() {
    const reader = this.reader!;
    this.reader = undefined;
    return reader;
  }
}
