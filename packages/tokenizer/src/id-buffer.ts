// A growable Int32Array: the encoder appends ids here instead of building number[] arrays, so
// encoding megabytes of text allocates a handful of buffers rather than millions of boxed numbers.

export class IdBuffer {
  private data: Int32Array;
  length = 0;

  constructor(initialCapacity = 256) {
    this.data = new Int32Array(Math.max(16, initialCapacity));
  }

  push(id: number): void {
    if (this.length === this.data.length) this.grow(this.length + 1);
    this.data[this.length++] = id;
  }

  pushAll(ids: ArrayLike<number>): void {
    const needed = this.length + ids.length;
    if (needed > this.data.length) this.grow(needed);
    if (ids instanceof Int32Array) {
      this.data.set(ids, this.length);
    } else {
      for (let i = 0; i < ids.length; i++) this.data[this.length + i] = ids[i]!;
    }
    this.length = needed;
  }

  /** A copy of the ids pushed so far, sized exactly. */
  toInt32Array(): Int32Array {
    return this.data.slice(0, this.length);
  }

  private grow(minCapacity: number): void {
    let capacity = this.data.length * 2;
    while (capacity < minCapacity) capacity *= 2;
    const next = new Int32Array(capacity);
    next.set(this.data.subarray(0, this.length));
    this.data = next;
  }
}
