// HostTensor <-> onnxruntime-node Tensor, sharing the typed arrays (no copies). ORT's JS Tensor
// knows float32, float16 (as 16-bit words), int32, int64 (BigInt64Array) and bool (one byte per
// element), but not bfloat16: its session metadata rejects such inputs and outputs outright.
import { Tensor } from "onnxruntime-node";
import { InvalidArgumentError, UnsupportedDTypeError } from "../../errors.js";
import type { DType } from "../../tensor/dtype.js";
import { HostTensor, sizeOf, type Shape } from "../../tensor/host-tensor.js";
import type { BackendTensor, RunInput } from "../backend.js";
import { showDims, type Dims } from "../../graph/dims.js";

type OrtDType = "float32" | "float16" | "int32" | "int64" | "bool" | "uint8";

const ORT_DTYPES: Readonly<Record<DType, OrtDType | undefined>> = {
  float32: "float32",
  float16: "float16",
  bfloat16: undefined,
  int32: "int32",
  int64: "int64",
  bool: "bool",
  uint8: "uint8",
};

/** Throws unless onnxruntime-node can pass tensors of this dtype in or out of a session. */
export function checkOrtDType(dtype: DType, where: string): void {
  if (ORT_DTYPES[dtype] === undefined) throw new UnsupportedDTypeError(dtype, `${where} of an onnxruntime session (cast inside the graph)`);
}

/** What a graph declares for one of its inputs or outputs. */
export interface TensorSpec {
  readonly name: string;
  readonly dtype: DType;
  readonly shape: Dims;
}

/** A host tensor wrapped for onnxruntime once: the CPU backend's resident tensor (no copy). */
export class OrtBackendTensor implements BackendTensor {
  readonly backend = ORT_BACKEND_NAME;
  private freed = false;

  constructor(private readonly host: HostTensor) {
    checkOrtDType(host.dtype, "a tensor");
    this.ort = new Tensor(ORT_DTYPES[host.dtype]!, host.data, [...host.shape]);
  }

  readonly ort: Tensor;

  get dtype(): DType {
    return this.host.dtype;
  }

  get shape(): Shape {
    return this.host.shape;
  }

  /** The wrapped host tensor (shared memory). */
  get hostTensor(): HostTensor {
    this.checkLive();
    return this.host;
  }

  free(): void {
    this.freed = true;
  }

  checkLive(): void {
    if (this.freed) throw new InvalidArgumentError("tensor", "was freed");
  }
}

export const ORT_BACKEND_NAME = "onnxruntime-node";

/** The onnxruntime tensor of an input, checked against the graph's dtype (shapes are checked together, by bindDims). */
export function toOrtTensor(spec: TensorSpec, value: RunInput | undefined): Tensor {
  if (value === undefined) throw new InvalidArgumentError(spec.name, `missing input (${spec.dtype}${showDims(spec.shape)})`);
  if (value.dtype !== spec.dtype) throw new InvalidArgumentError(spec.name, `expected dtype ${spec.dtype}, got ${value.dtype}`);
  if (value instanceof HostTensor) {
    if (value.data.length !== sizeOf(value.shape)) throw new InvalidArgumentError(spec.name, `${value.data.length} elements for shape ${showDims(value.shape)}`);
    return new Tensor(ORT_DTYPES[spec.dtype]!, value.data, [...value.shape]);
  }
  if (!(value instanceof OrtBackendTensor)) throw new InvalidArgumentError(spec.name, `is a tensor of the ${value.backend} backend, not of onnxruntime-node`);
  value.checkLive();
  return value.ort;
}

export function fromOrtTensor(spec: TensorSpec, tensor: Tensor | undefined): HostTensor {
  if (tensor === undefined) throw new InvalidArgumentError(spec.name, "onnxruntime returned no such output");
  let data = tensor.data as HostTensor["data"];
  // float16 comes back as Float16Array where the runtime has one; the IR holds the 16-bit words.
  if (spec.dtype === "float16" && !(data instanceof Uint16Array)) data = new Uint16Array(data.buffer, data.byteOffset, data.length);
  return new HostTensor(spec.dtype, tensor.dims, data);
}
