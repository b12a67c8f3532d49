// A compiled graph on the GPU. Compiling checks the wiring, records when each value is last
// read, and uploads the constants once. A run binds the symbolic dims from the inputs, records
// every node's kernels, submits them as one command buffer, and either reads the outputs back
// (run) or leaves them on the GPU as tensors (runResident). Index errors found on the GPU are
// thrown after the run.
import {
  type BackendTensor,
  bindDims,
  type Dims,
  type DType,
  type Executable,
  type Graph,
  HostTensor,
  InvalidArgumentError,
  type RunInput,
  ShapeMismatchError,
  type TensorMap,
  evaluateDims,
  sizeOf,
} from "@gemma-ts/core";
import { CommandRecorder } from "./command-recorder.js";
import { storageBytes } from "./element-storage.js";
import type { GpuContext } from "./gpu-context.js";
import { ERROR_WORDS } from "./kernels/checked-index.wgsl.js";
import { stridedMap } from "./kernels/strided-map.js";
import { type FusionPlan, planFusion } from "./fusion.js";
import { lowerAttention, lowerFused, lowerNode, lowerReduction } from "./lower-node.js";
import { StagedRead } from "./staged-read.js";
import { type RunValue, RunValues } from "./run-values.js";
import { WebGpuTensor } from "./webgpu-tensor.js";

export interface Uploader {
  upload(tensor: HostTensor, what: string): WebGpuTensor;
}

interface Plan {
  /** Node ids whose values can be dropped after node `id` ran, keyed by `id`. */
  readonly releases: ReadonlyMap<number, readonly number[]>;
  readonly fusion: FusionPlan;
}

function plan(graph: Graph, fuse: boolean, maxLeaves: number): Plan {
  const seen = new Set<number>();
  for (const node of graph.nodes) {
    for (const input of node.inputs) {
      if (!seen.has(input)) throw new InvalidArgumentError("graph", `node %${node.id} reads %${input}, which does not precede it`);
    }
    if (seen.has(node.id)) throw new InvalidArgumentError("graph", `node id %${node.id} appears twice`);
    seen.add(node.id);
  }
  const fusion: FusionPlan = fuse ? planFusion(graph, maxLeaves) : { attention: new Map(), groups: new Map(), prologues: new Map(), inlined: new Set(), rootOf: new Map() };
  // A read inside a fused group happens when the group's root runs.
  const lastUse = new Map<number, number>();
  const position = new Map(graph.nodes.map((node, index) => [node.id, index]));
  for (const node of graph.nodes) {
    const at = fusion.rootOf.get(node.id) ?? node.id;
    for (const input of node.inputs) {
      const previous = lastUse.get(input);
      if (previous === undefined || position.get(at)! > position.get(previous)!) lastUse.set(input, at);
    }
  }
  for (const node of graph.nodes) if (!lastUse.has(node.id)) lastUse.set(node.id, node.id);
  for (const [name, id] of graph.outputs) {
    if (!seen.has(id)) throw new InvalidArgumentError("graph", `output '${name}' is %${id}, which is not a node`);
    lastUse.delete(id);
  }
  const releases = new Map<number, number[]>();
  for (const [id, last] of lastUse) {
    const list = releases.get(last);
    if (list) list.push(id);
    else releases.set(last, [id]);
  }
  return { releases, fusion };
}

export class WebGpuExecutable implements Executable {
  private readonly plan: Plan;
  private readonly constants = new Map<number, WebGpuTensor>();
  private readonly dtypes: ReadonlyMap<number, DType>;
  private disposed = false;

  /** Kernel launches of the latest run (fusion shows as fewer). */
  lastRunLaunches = 0;

  constructor(
    private readonly gpu: GpuContext,
    private readonly graph: Graph,
    uploader: Uploader,
    options: { fuse: boolean },
  ) {
    // A fused kernel binds its metadata, its leaves and its output.
    this.plan = plan(graph, options.fuse, gpu.device.limits.maxStorageBuffersPerShaderStage - 2);
    this.dtypes = new Map(graph.nodes.map((node) => [node.id, node.dtype]));
    for (const node of graph.nodes) if (node.op.kind === "constant") this.constants.set(node.id, uploader.upload(node.op.value, `constant %${node.id}`));
  }

  async run(inputs: TensorMap): Promise<Record<string, HostTensor>> {
    const { values, outputs, recorder, finish } = this.record(inputs);
    const reads = outputs.map(([name, value]) => [name, this.readLater(recorder, value)] as const);
    try {
      await finish();
      const hosts = await Promise.all(reads.map(async ([name, read]) => [name, await read.result()] as const));
      return Object.fromEntries(hosts);
    } catch (error) {
      for (const [, read] of reads) read.discard();
      throw error;
    } finally {
      values.dropAll();
    }
  }

  async runResident(inputs: TensorMap): Promise<Record<string, BackendTensor>> {
    // Checked before anything is recorded, so a refusal leaves nothing held.
    for (const id of this.graph.outputs.values()) {
      if (this.dtypes.get(id) === "uint8") throw new InvalidArgumentError("output", "uint8 outputs (quantized blocks) cannot stay resident on the webgpu backend");
    }
    const { values, outputs, recorder, finish } = this.record(inputs);
    const result: Record<string, WebGpuTensor> = {};
    try {
      const given = new Set<RunValue>();
      for (const [name, value] of outputs) {
        if (values.ownsAlone(value) && !given.has(value)) {
          values.disown(value);
          given.add(value);
          result[name] = new WebGpuTensor(value.dtype, value.shape, value.storage, value.offset, false);
        } else {
          result[name] = this.copyOut(recorder, value);
        }
      }
      await finish();
    } catch (error) {
      for (const tensor of Object.values(result)) tensor.free();
      throw error;
    } finally {
      values.dropAll();
    }
    return result;
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    for (const tensor of this.constants.values()) tensor.free();
    this.constants.clear();
  }

  /** Records the whole graph; `finish` submits it and throws any index error the GPU found. */
  private record(inputs: TensorMap) {
    if (this.disposed) throw new InvalidArgumentError("executable", "run after dispose()");
    const graph = this.graph;
    const bound = this.checkInputs(inputs);
    const pool = this.gpu.pool;
    pool.runStarted();
    let ended = false;
    const end = () => {
      if (!ended) pool.runEnded();
      ended = true;
    };
    const values = new RunValues(this.gpu);
    const recorder = new CommandRecorder(this.gpu);
    let errors: GPUBuffer | undefined;
    let errorStorage: ReturnType<GpuContext["pool"]["acquire"]> | undefined;
    const errorBuffer = () => {
      if (!errorStorage) {
        errorStorage = this.gpu.pool.acquire(ERROR_WORDS * 4, "the run's error words");
        errors = errorStorage.buffer;
        // Zeroed by a kernel in the run's own pass, not by queue.writeBuffer, so the zeros land
        // between the run's earlier kernels and its index checks whatever the buffer's history.
        stridedMap(recorder, "0u", [ERROR_WORDS], [], { buffer: errors, offset: 0, strides: [1], type: "u32" });
      }
      return errors!;
    };
    try {
      for (const node of graph.nodes) {
        if (node.op.kind === "input") {
          const { value, owned } = bound.inputs.get(node.op.name)!;
          values.set(node.id, value, owned);
        } else if (node.op.kind === "constant") {
          const constant = this.constants.get(node.id)!;
          values.set(node.id, { storage: constant.storage, offset: constant.offset, shape: constant.shape, dtype: constant.dtype }, false);
        } else if (!this.plan.fusion.inlined.has(node.id)) {
          const shape = evaluateDims(node.shape, bound.dims);
          if (shape.some((d) => d < 0)) {
            throw new ShapeMismatchError(`node %${node.id} (${node.op.kind})`, `negative dimension in [${shape.join(", ")}] with ${[...bound.dims].map(([n, v]) => `${n}=${v}`).join(", ")}`);
          }
          const context = { recorder, values, dims: bound.dims, errors: errorBuffer };
          const group = this.plan.fusion.groups.get(node.id);
          const prologue = this.plan.fusion.prologues.get(node.id);
          const attention = this.plan.fusion.attention.get(node.id);
          const dtypeOf = (id: number) => this.dtypeOf(id);
          const { value, owned } = group
            ? lowerFused(context, group, shape, dtypeOf)
            : attention
              ? lowerAttention(context, attention, shape, evaluateDims(attention.scores.shape, bound.dims), dtypeOf)
              : prologue
              ? lowerReduction(context, node, shape, prologue, evaluateDims(prologue.members.at(-1)!.shape, bound.dims), dtypeOf)
              : lowerNode(context, node, shape, node.inputs.map((id) => values.get(id)));
          values.set(node.id, value, owned);
        }
        for (const id of this.plan.releases.get(node.id) ?? []) values.drop(id);
      }
    } catch (error) {
      values.dropAll();
      for (const { value, owned } of bound.inputs.values()) if (owned && !value.storage.isReleased) value.storage.release();
      errorStorage?.release();
      end();
      throw error;
    }
    const outputs = [...graph.outputs].map(([name, id]) => [name, values.get(id)] as const);
    const readErrors = errorStorage ? this.readLater(recorder, { storage: errorStorage, offset: 0, shape: [ERROR_WORDS], dtype: "int32" }) : undefined;
    const finish = async () => {
      try {
        this.lastRunLaunches = recorder.launchCount;
        try {
          await recorder.submit();
        } finally {
          end();
        }
        if (readErrors) this.throwIndexError(await readErrors.result());
      } catch (error) {
        readErrors?.discard();
        throw error;
      } finally {
        errorStorage?.release();
      }
    };
    return { values, outputs, recorder, finish };
  }

  private dtypeOf(id: number): DType {
    return this.dtypes.get(id)!;
  }

  private throwIndexError(words: HostTensor): void {
    const [flag = 0, node = 0, value = 0, limit = 0] = Array.from(words.data as Int32Array);
    if (flag === 0) return;
    const kind = this.graph.nodes.find((n) => n.id === node)?.op.kind ?? "index";
    throw new InvalidArgumentError(`${kind} indices`, `index ${value} is out of range for ${limit >>> 0} rows (node %${node})`);
  }

  /** Records a copy of the value into a staging buffer, mapped by `result()` after the submit. */
  private readLater(recorder: CommandRecorder, value: RunValue): StagedRead {
    const staged = new StagedRead(this.gpu.device, value.storage.buffer, value.dtype, value.shape, value.offset);
    recorder.copy((encoder) => staged.encode(encoder));
    return staged;
  }

  /** A resident copy of a value the run cannot give away (an input, a constant, a shared buffer). */
  private copyOut(recorder: CommandRecorder, value: RunValue): WebGpuTensor {
    const size = sizeOf(value.shape);
    const bytes = storageBytes(value.dtype, size);
    const storage = this.gpu.pool.acquire(bytes, "a resident output");
    const source = value.storage.buffer;
    recorder.copy((encoder) => encoder.copyBufferToBuffer(source, value.offset * 4, storage.buffer, 0, bytes));
    return new WebGpuTensor(value.dtype, value.shape, storage, 0, false);
  }

  /** Every graph input present with its declared dtype and shape, and nothing else; host inputs uploaded. */
  private checkInputs(given: TensorMap) {
    const graph = this.graph;
    for (const name of Object.keys(given)) {
      if (!graph.inputs.has(name)) throw new InvalidArgumentError(name, `is not an input of the graph (its inputs: ${[...graph.inputs.keys()].join(", ")})`);
    }
    const shapes: [string, Dims, readonly number[]][] = [];
    const tensors = new Map<string, RunInput>();
    for (const [name, id] of graph.inputs) {
      const node = graph.nodes.find((n) => n.id === id)!;
      const tensor = given[name];
      if (tensor === undefined) throw new InvalidArgumentError(name, `missing; the graph declares it as ${node.dtype}[${node.shape.join(", ")}]`);
      if (tensor.dtype !== node.dtype) throw new InvalidArgumentError(name, `expected ${node.dtype}, got ${tensor.dtype}`);
      if (!(tensor instanceof HostTensor)) WebGpuTensor.unwrap(tensor);
      shapes.push([name, node.shape, tensor.shape]);
      tensors.set(name, tensor);
    }
    const dims = bindDims(shapes);
    // Host inputs are uploaded into storage the run owns; resident ones are read where they are.
    const inputs = new Map<string, { value: RunValue; owned: boolean }>();
    try {
      for (const [name, tensor] of tensors) {
        if (tensor instanceof HostTensor) {
          inputs.set(name, { value: this.gpu.uploadToPool(tensor, `input '${name}'`), owned: true });
        } else {
          const { storage, offset, shape, dtype } = WebGpuTensor.unwrap(tensor);
          inputs.set(name, { value: { storage, offset, shape, dtype }, owned: false });
        }
      }
    } catch (error) {
      for (const { value, owned } of inputs.values()) if (owned) value.storage.release();
      throw error;
    }
    return { dims, inputs };
  }
}
