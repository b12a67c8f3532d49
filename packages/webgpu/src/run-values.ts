// The values of one graph run: each node's result is a range of a GPU buffer (storage, offset,
// shape). Results a run computes live in pooled storage it owns; reshape results and inputs alias
// storage. A count of the live values on each owned storage frees it when the last one is dropped:
// for this run's later kernels at once (the GPU runs a submit's dispatches in order), for other
// runs only after this one's submit, because another run could write it (queue.writeBuffer of an
// input) before this run's commands reach the queue.
import { type DType, sizeOf } from "@gemma-ts/core";
import { storageBytes } from "./element-storage.js";
import { type GpuStorage, sizeClass } from "./gpu-storage.js";
import type { GpuContext } from "./gpu-context.js";

export interface RunValue {
  readonly storage: GpuStorage;
  /** In elements (bytes for uint8). */
  readonly offset: number;
  readonly shape: readonly number[];
  readonly dtype: DType;
}

export class RunValues {
  private readonly values = new Map<number, RunValue>();
  private readonly owned = new Map<GpuStorage, number>();
  /** Storage this run freed, by size class: reused by its later nodes, pooled after its submit. */
  private readonly spare = new Map<number, GpuStorage[]>();

  constructor(private readonly gpu: GpuContext) {}

  get(id: number): RunValue {
    return this.values.get(id)!;
  }

  /** A fresh value of `dtype` and `shape` in pooled storage the run owns. */
  allocate(dtype: DType, shape: readonly number[], what: string): RunValue {
    const bytes = storageBytes(dtype, sizeOf(shape));
    const storage = this.spare.get(sizeClass(bytes))?.pop() ?? this.gpu.pool.acquire(bytes, what);
    return { storage, offset: 0, shape, dtype };
  }

  /** Records the value of node `id`; owned says whether the run owns its storage. */
  set(id: number, value: RunValue, owned: boolean): void {
    this.values.set(id, value);
    if (owned || this.owned.has(value.storage)) this.owned.set(value.storage, (this.owned.get(value.storage) ?? 0) + 1);
  }

  /** Whether the run owns the value's storage and no other live value shares it. */
  ownsAlone(value: RunValue): boolean {
    return this.owned.get(value.storage) === 1;
  }

  drop(id: number): void {
    const value = this.values.get(id);
    if (!value) return;
    this.values.delete(id);
    const count = this.owned.get(value.storage);
    if (count === undefined) return;
    if (count > 1) this.owned.set(value.storage, count - 1);
    else {
      this.owned.delete(value.storage);
      const size = value.storage.buffer.size;
      this.spare.set(size, [...(this.spare.get(size) ?? []), value.storage]);
    }
  }

  /** Gives the value's storage away (a resident output): the run no longer counts or releases it. */
  disown(value: RunValue): void {
    this.owned.delete(value.storage);
  }

  /** Drops every value and returns all the run's storage to the pool: after its submit, or when nothing was submitted. */
  dropAll(): void {
    for (const id of [...this.values.keys()]) this.drop(id);
    for (const list of this.spare.values()) for (const storage of list) storage.release();
    this.spare.clear();
  }
}
