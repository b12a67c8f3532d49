// GPU memory: buffers, and the pool that recycles them between runs. A run records its commands
// and submits them later (after compiling any new pipelines), so a buffer released in between,
// by the run's own end or by a caller freeing a tensor the run reads, must not be written by a
// queue.writeBuffer (which lands before the run's commands) or destroyed: while any run is between
// recording and submitting, releases wait. Once submitted, the queue's order makes reuse safe: a
// later writer of a recycled buffer runs after its earlier readers.
import { LimitExceededError } from "@gemma-ts/core";
import { STORAGE_USAGE } from "./gpu-flags.js";

/** One GPU buffer, owned by the pool (recycled when released) or alone (destroyed when released). */
export class GpuStorage {
  private released = false;

  constructor(
    readonly buffer: GPUBuffer,
    private readonly pool: BufferPool,
    /** A buffer of its own (an upload, a constant): destroyed rather than pooled. */
    private readonly alone = false,
  ) {}

  get isReleased(): boolean {
    return this.released;
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    if (this.alone) this.pool.destroyLater(this.buffer);
    else this.pool.recycle(this.buffer);
  }
}

/**
 * Buffers by size class. A class is the size rounded up to 1/8 of its power of two (so at most
 * 12.5% is wasted) and to 256 bytes, the storage offset alignment every adapter accepts.
 */
export class BufferPool {
  private readonly free = new Map<number, GPUBuffer[]>();
  private readonly all = new Set<GPUBuffer>();
  /** Runs recorded but not yet submitted, and the releases waiting for them. */
  private pendingRuns = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    private readonly device: GPUDevice,
    private readonly maxBindingBytes: number,
  ) {}

  acquire(bytes: number, what: string): GpuStorage {
    const size = sizeClass(bytes);
    checkBindingSize(bytes, this.maxBindingBytes, what);
    const buffer = this.free.get(size)?.pop() ?? this.create(size);
    return new GpuStorage(buffer, this);
  }

  recycle(buffer: GPUBuffer): void {
    this.whenNoRunPending(() => {
      const list = this.free.get(buffer.size) ?? [];
      list.push(buffer);
      this.free.set(buffer.size, list);
    });
  }

  destroyLater(buffer: GPUBuffer): void {
    this.whenNoRunPending(() => buffer.destroy());
  }

  /** A run starts recording; its buffers' releases, and everyone else's, wait for runEnded(). */
  runStarted(): void {
    this.pendingRuns++;
  }

  /** The run was submitted (or abandoned before any submit). */
  runEnded(): void {
    this.pendingRuns--;
    if (this.pendingRuns > 0) return;
    for (const release of this.waiting.splice(0)) release();
  }

  private whenNoRunPending(release: () => void): void {
    if (this.pendingRuns > 0) this.waiting.push(release);
    else release();
  }

  /** Destroys every buffer the pool made, in use or not. */
  destroy(): void {
    for (const buffer of this.all) buffer.destroy();
    this.all.clear();
    this.free.clear();
  }

  private create(size: number): GPUBuffer {
    const buffer = this.device.createBuffer({ size, usage: STORAGE_USAGE });
    this.all.add(buffer);
    return buffer;
  }
}

export function sizeClass(bytes: number): number {
  const atLeast = Math.max(256, bytes);
  const step = Math.max(256, 2 ** Math.floor(Math.log2(atLeast)) / 8);
  return Math.ceil(atLeast / step) * step;
}

/** A kernel binds a tensor's whole buffer, so no tensor may exceed the adapter's binding limit. */
export function checkBindingSize(bytes: number, limit: number, what: string): void {
  if (bytes > limit) throw new LimitExceededError("bytes", bytes, limit, what, "the adapter's maxStorageBufferBindingSize: one tensor must fit one binding");
}
