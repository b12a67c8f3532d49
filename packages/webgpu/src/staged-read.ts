// Reading a GPU tensor back: a copy of its (4-byte aligned) range into a mappable buffer, recorded
// with the commands that compute it, then mapped once they have run. Shared by `read` and by the
// outputs of `run`.
import type { DType, HostTensor, Shape } from "@gemma-ts/core";
import { sizeOf } from "@gemma-ts/core";
import { fromGpuElements, readRange } from "./element-storage.js";
import { BufferUsage, MapMode } from "./gpu-flags.js";

export class StagedRead {
  private readonly range: { start: number; bytes: number; skip: number };
  private readonly staging: GPUBuffer | undefined;

  constructor(
    device: GPUDevice,
    private readonly source: GPUBuffer,
    private readonly dtype: DType,
    private readonly shape: Shape,
    offset: number,
  ) {
    this.range = readRange(dtype, sizeOf(shape), offset);
    this.staging = this.range.bytes > 0 ? device.createBuffer({ size: this.range.bytes, usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST }) : undefined;
  }

  encode(encoder: GPUCommandEncoder): void {
    if (this.staging) encoder.copyBufferToBuffer(this.source, this.range.start, this.staging, 0, this.range.bytes);
  }

  /** The tensor, once the copy has been submitted; the staging buffer is destroyed either way. */
  async result(): Promise<HostTensor> {
    if (!this.staging) return fromGpuElements(this.dtype, this.shape, new ArrayBuffer(0));
    try {
      await this.staging.mapAsync(MapMode.READ);
      return fromGpuElements(this.dtype, this.shape, this.staging.getMappedRange().slice(this.range.skip));
    } finally {
      this.staging.destroy();
    }
  }

  /** Destroys the staging buffer of a read that will not happen (the run failed). */
  discard(): void {
    this.staging?.destroy();
  }
}
