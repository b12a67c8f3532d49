// What random inputs miss. Buffer lifetimes a caller can trip over: freeing a tensor (or disposing
// an executable) right after starting a run that reads it, reading back views at the end of a
// buffer, empty tensors, an output that cannot stay resident. And values where WGSL's built-ins
// differ from the reference: infinities in sums, NaN through max, float16 overflow, integer
// division by zero.
import { GraphBuilder, HostTensor, InvalidArgumentError, ReferenceBackend } from "@gemma-ts/core";
import { afterAll, describe, expect, it } from "vitest";
import { testBackend } from "./support/webgpu.js";

const setup = await testBackend();

describe.skipIf(setup.skip !== undefined)(`WebGPU edge cases${setup.skip ? ` (skipped: ${setup.skip})` : ""}`, () => {
  const gpu = setup.backend!;
  afterAll(() => gpu.destroy());

  const doubling = () => {
    const b = new GraphBuilder();
    return b.build({ y: b.input("x", "float32", [4]).mul(2) });
  };

  it("a tensor freed, or its executable disposed, right after run() starts still gives the run's values", async () => {
    const executable = await gpu.compile(doubling());
    const x = gpu.upload(HostTensor.float32([4], [1, 2, 3, 4]));
    const pending = executable.run({ x });
    gpu.free(x);
    // Another run's upload may take the freed buffer only after the first run was submitted.
    const other = executable.run({ x: HostTensor.float32([4], [10, 20, 30, 40]) });
    void executable.dispose();
    expect(Array.from((await pending).y!.data as Float32Array)).toEqual([2, 4, 6, 8]);
    expect(Array.from((await other).y!.data as Float32Array)).toEqual([20, 40, 60, 80]);
  });

  it("reads views at the end of a buffer, uint8 at odd offsets, and empty tensors", async () => {
    const bytes = gpu.upload(new HostTensor("uint8", [10], Uint8Array.from([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])));
    expect(Array.from((await gpu.read(gpu.view(bytes, 9, [1]))).data as Uint8Array)).toEqual([9]);
    expect(Array.from((await gpu.read(gpu.view(bytes, 5, [5]))).data as Uint8Array)).toEqual([5, 6, 7, 8, 9]);
    const floats = gpu.upload(HostTensor.float32([3], [1, 2, 3]));
    expect((await gpu.read(gpu.view(floats, 3, [0]))).shape).toEqual([0]);
    expect(Array.from((await gpu.read(gpu.view(floats, 2, [1]))).data as Float32Array)).toEqual([3]);
  });

  it("refuses a uint8 resident output up front, and runs on afterwards", async () => {
    const b = new GraphBuilder();
    const blocks = b.input("blocks", "uint8", [8]);
    const executable = await gpu.compile(b.build({ blocks }));
    const given = new HostTensor("uint8", [8], new Uint8Array(8));
    await expect(executable.runResident({ blocks: given })).rejects.toThrow(InvalidArgumentError);
    expect(Array.from((await executable.run({ blocks: given })).blocks!.data as Uint8Array)).toEqual(new Array(8).fill(0));
  });

  it("infinities, NaN, float16 overflow and integer division by zero as the reference backend", async () => {
    const b = new GraphBuilder();
    const x = b.input("x", "float32", [6]);
    const long = b.input("long", "float32", [300]);
    const i = b.input("i", "int32", [3]);
    const j = b.input("j", "int32", [3]);
    const graph = b.build({
      f16: x.cast("float16").cast("float32"),
      sum: x.sum(0),
      max: x.max(0),
      longMax: long.max(0),
      longSum: long.sum(0),
      maximum: x.maximum(0),
      minimum: x.minimum(0),
      quotient: i.div(j),
    });
    const inputs = {
      x: HostTensor.float32([6], [Number.POSITIVE_INFINITY, 1.0013765, Number.NaN, 90000, 3e-6, -65519]),
      long: HostTensor.float32([300], Array.from({ length: 300 }, (_, k) => (k === 9 ? Number.POSITIVE_INFINITY : k))),
      i: HostTensor.int32([3], [7, -7, 5]),
      j: HostTensor.int32([3], [0, 2, 0]),
    };
    const got = await (await gpu.compile(graph)).run(inputs);
    const want = await (await new ReferenceBackend().compile(graph)).run(inputs);
    for (const name of Object.keys(want)) expect(Array.from(got[name]!.data as Float32Array, String), name).toEqual(Array.from(want[name]!.data as Float32Array, String));
  });
});
