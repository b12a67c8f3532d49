// The values of one graph run: each node's result is a range of a GPU buffer (storage, offset,
// shape). Results a run computes live in pooled storage it owns; reshape results and inputs alias
// storage. A count of the live values on each owned storage returns it to the pool when the last
// one is dropped.
import type { DType } from "@gemma-ts/core";
import { storageBytes } from "./element-storage.js";
import type { GpuStorage } from "./gpu-storage.js";
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

  constructor(private readonly gpu: GpuContext) {}

  get(id: number): RunValue {
    return this.values.get(id)!;
  }

  /** A fresh value of `dtype` and `shape` in pooled storage the run owns. */
  allocate(dtype: DType, shape: readonly number[], what: string): RunValue {
    const size = shape.reduce((n, d) => n * d, 1);
    return { storage: this.gpu.pool.acquire(storageBytes(dtype, size), what), offset: 0, shape, dtype };
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
      value.storage.release();
    }
  }

  /** Gives the value's storage away (a resident output): the run no longer counts or releases it. */
  disown(value: RunValue): void {
    this.owned.delete(value.storage);
  }

  dropAll(): void {
    for (const id of [...this.values.keys()]) this.drop(id);
  }
}
