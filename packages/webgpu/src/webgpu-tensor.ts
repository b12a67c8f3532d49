// A tensor resident on the GPU: a buffer, an offset into it (in elements, or bytes for uint8) and
// a shape. Views share their parent's buffer; freeing a view leaves the buffer alone.
import { type BackendTensor, type DType, InvalidArgumentError, type Shape } from "@gemma-ts/core";
import type { GpuStorage } from "./gpu-storage.js";

export class WebGpuTensor implements BackendTensor {
  readonly backend = "webgpu";
  private freed = false;

  constructor(
    readonly dtype: DType,
    readonly shape: Shape,
    readonly storage: GpuStorage,
    readonly offset: number,
    /** A view does not own its storage. */
    readonly isView: boolean,
  ) {}

  static unwrap(tensor: BackendTensor): WebGpuTensor {
    if (!(tensor instanceof WebGpuTensor)) throw new InvalidArgumentError("tensor", `belongs to the ${tensor.backend} backend, not the webgpu one`);
    if (tensor.freed || tensor.storage.isReleased) throw new InvalidArgumentError("tensor", "was freed");
    return tensor;
  }

  free(): void {
    if (this.freed) throw new InvalidArgumentError("tensor", "was freed already");
    this.freed = true;
    if (!this.isView) this.storage.release();
  }
}
