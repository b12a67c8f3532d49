// Buffer lifetimes a caller can trip over: freeing a tensor (or disposing an executable) right
// after starting a run that reads it, reading back views at the end of a buffer, empty tensors,
// and an output that cannot stay resident. Each must give the right values or a typed error.
import { GraphBuilder, HostTensor, InvalidArgumentError } from "@gemma-ts/core";
import { afterAll, describe, expect, it } from "vitest";
import { testBackend } from "./support/webgpu.js";

const setup = await testBackend();

describe.skipIf(setup.skip !== undefined)(`WebGPU buffer lifetimes${setup.skip ? ` (skipped: ${setup.skip})` : ""}`, () => {
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
});
