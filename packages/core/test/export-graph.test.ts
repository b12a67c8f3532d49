// What the ONNX export traces besides gemma2Forward, on both backends: cos, sin and range (with
// symbolic bounds), a bool where (And/Or/Not on onnxruntime, which has no bool Where), RoPE tables
// computed from position ids against ropeTables, masks computed from an attention_mask against
// attentionMask; and the whole traced export graph, which the reference backend runs as well.
import { describe, expect, it } from "vitest";
import { attentionMask, GraphBuilder, HostTensor, ReferenceBackend, ropeTables, type Backend, type Graph, type LayerKind } from "../src/index.js";
import { slotMasks } from "../src/models/gemma2/masks.js";
import { ropeTablesFromPositions } from "../src/nn/rope.js";
import { gemma2ExportGraph, OnnxBackend } from "../src/node.js";
import { maxDifference } from "./support/compare.js";
import { randomModel, sampleIds } from "./support/random-model.js";

const BACKENDS: [string, () => Backend][] = [
  ["reference", () => new ReferenceBackend()],
  ["onnxruntime", () => new OnnxBackend({ intraOpThreads: 1 })],
];

async function run(backend: Backend, graph: Graph, inputs: Record<string, HostTensor>): Promise<Record<string, HostTensor>> {
  const executable = await backend.compile(graph);
  try {
    return await executable.run(inputs);
  } finally {
    await executable.dispose();
  }
}

const values = (tensor: HostTensor): number[] => Array.from(tensor.toFloat32().data);

describe.each(BACKENDS)("on %s", (_name, makeBackend) => {
  it("computes cos, sin, and ranges whose bounds are symbolic dims (empty ones included)", async () => {
    const b = new GraphBuilder();
    const x = b.input("x", "float32", ["n"]);
    const past = b.input("past", "float32", ["p"]);
    const graph = b.build({ cos: x.cos(), sin: x.sin(), slots: b.range("p", "p+n"), before: b.range(0, "p"), fixed: b.range(2, 5), width: past.sum(0, true) });
    const angles = [-7.5, -1, 0, 0.25, 3, 100];
    for (const [n, p] of [
      [6, 0],
      [3, 4],
    ] as const) {
      const xs = angles.slice(0, n);
      const out = await run(makeBackend(), graph, { x: HostTensor.float32([n], xs), past: HostTensor.float32([p]) });
      expect(maxDifference(values(out.cos!), xs.map((v) => Math.cos(Math.fround(v))))).toBeLessThan(1e-6);
      expect(maxDifference(values(out.sin!), xs.map((v) => Math.sin(Math.fround(v))))).toBeLessThan(1e-6);
      expect(out.slots!.dtype).toBe("int64");
      expect(out.slots!.shape).toEqual([n]);
      expect(values(out.slots!)).toEqual(Array.from({ length: n }, (_, i) => p + i));
      expect(out.before!.shape).toEqual([p]);
      expect(values(out.before!)).toEqual(Array.from({ length: p }, (_, i) => i));
      expect(values(out.fixed!)).toEqual([2, 3, 4]);
    }
  });

  it("computes ropeTables' cos and sin from int64 position ids, each row at its own positions", async () => {
    const [headDim, theta] = [16, 10000];
    const rows = [
      [0, 1, 2, 3],
      [1, 1, 5, 4095],
    ];
    const b = new GraphBuilder();
    const tables = ropeTablesFromPositions(b.input("positions", "int64", ["batch", "seq"]), headDim, theta);
    const out = await run(makeBackend(), b.build(tables), { positions: HostTensor.int64([2, 4], rows.flat()) });
    expect(out.cos!.shape).toEqual([2, 1, 4, headDim / 2]);
    const expected = rows.map((positions) => ropeTables(positions, headDim, theta));
    // The same float32 angles; onnxruntime's float32 cos and sin may differ in the last bit.
    expect(maxDifference(values(out.cos!), expected.flatMap((t) => Array.from(t.cos.data)))).toBeLessThan(1e-6);
    expect(maxDifference(values(out.sin!), expected.flatMap((t) => Array.from(t.sin.data)))).toBeLessThan(1e-6);
  });

  it("masks by slot as attentionMask does, left padding seen by no query", async () => {
    const window = 3;
    // S = 7 key slots, the last T = 5 of them the queries; row 1 has 4 slots of left padding.
    const present = [
      [1, 1, 1, 1, 1, 1, 1],
      [0, 0, 0, 0, 1, 1, 1],
    ];
    const [S, T] = [7, 5];
    const b = new GraphBuilder();
    const keyPresent = b.input("attention_mask", "int64", ["batch", "past+seq"]);
    b.input("ids", "int64", ["batch", "seq"]);
    b.input("past_keys", "float32", ["batch", "past"]);
    const masks = slotMasks(keyPresent, "seq", window);
    const out = await run(makeBackend(), b.build(masks), {
      attention_mask: HostTensor.int64([2, S], present.flat()),
      ids: HostTensor.int64([2, T], Array.from({ length: 2 * T }, (_, i) => i)),
      past_keys: HostTensor.float32([2, S - T]),
    });
    const queries = Array.from({ length: T }, (_, t) => S - T + t);
    for (const kind of ["full_attention", "sliding_attention"] as LayerKind[]) {
      expect(out[kind]!.shape).toEqual([2, 1, 1, T, S]);
      const expected = present.flatMap((row) => Array.from(attentionMask(queries, row.map((p, s) => (p ? s : -1)), kind, window).data));
      expect(values(out[kind]!), kind).toEqual(expected);
    }
    // Row 1's first two queries are padding (slots 2 and 3) and see no key; its third sees itself.
    expect(values(out.full_attention!).slice(T * S, T * S + 3 * S)).toEqual([...Array.from({ length: 2 * S + 4 }, () => 0), 1, 0, 0]);
  });
});

describe("the traced export graph", () => {
  const { config, params } = randomModel({ slidingWindow: 4 }, 11);
  const graph = gemma2ExportGraph(config, params);

  it("has Optimum's inputs and outputs, in order, and reads every input", () => {
    expect([...graph.inputs.keys()].slice(0, 4)).toEqual(["input_ids", "attention_mask", "position_ids", "past_key_values.0.key"]);
    expect([...graph.outputs.keys()].slice(0, 3)).toEqual(["logits", "present.0.key", "present.0.value"]);
    const read = new Set(graph.nodes.flatMap((node) => node.inputs));
    expect([...graph.inputs].filter(([, id]) => !read.has(id)).map(([name]) => name)).toEqual([]);
  });

  it("gives the same logits and presents on the reference backend as on onnxruntime: a left-padded batch, then one decode step", async () => {
    const { numKeyValueHeads: K, headDim: h, numHiddenLayers } = config;
    const pad = 3;
    const rows = [sampleIds(7, config.vocabSize, 2), [...Array.from({ length: pad }, () => config.padTokenId), ...sampleIds(7 - pad, config.vocabSize, 3)]];
    const mask = [rows[0]!.map(() => 1), rows[1]!.map((_, i) => (i < pad ? 0 : 1))];
    const positions = mask.map((row) => {
      let count = 0;
      return row.map((m) => (m ? count++ : 1));
    });
    const emptyPast: Record<string, HostTensor> = {};
    for (let i = 0; i < numHiddenLayers; i++) for (const part of ["key", "value"]) emptyPast[`past_key_values.${i}.${part}`] = HostTensor.float32([2, K, 0, h]);
    const prefill = {
      input_ids: HostTensor.int64([2, 7], rows.flat()),
      attention_mask: HostTensor.int64([2, 7], mask.flat()),
      position_ids: HostTensor.int64([2, 7], positions.flat()),
      ...emptyPast,
    };
    const step = (previous: Record<string, HostTensor>) => {
      const past: Record<string, HostTensor> = {};
      for (const [name, tensor] of Object.entries(previous)) if (name.startsWith("present.")) past[name.replace("present.", "past_key_values.")] = tensor;
      return {
        input_ids: HostTensor.int64([2, 1], [5, 9]),
        attention_mask: HostTensor.int64([2, 8], [...mask[0]!, 1, ...mask[1]!, 1]),
        position_ids: HostTensor.int64([2, 1], [7, 7 - pad]),
        ...past,
      };
    };
    const results = [];
    for (const [, makeBackend] of BACKENDS) {
      const backend = makeBackend();
      const first = await run(backend, graph, prefill);
      results.push([first, await run(backend, graph, step(first))] as const);
    }
    const [[refFirst, refStep], [ortFirst, ortStep]] = results as [readonly [Record<string, HostTensor>, Record<string, HostTensor>], readonly [Record<string, HostTensor>, Record<string, HostTensor>]];
    expect(ortStep.logits!.shape).toEqual([2, 1, config.vocabSize]);
    expect(ortStep["present.3.value"]!.shape).toEqual([2, K, 8, h]);
    for (const name of ["logits", "present.0.key", "present.3.value"]) {
      expect(maxDifference(values(refFirst[name]!), values(ortFirst[name]!)), name).toBeLessThan(1e-4);
      expect(maxDifference(values(refStep[name]!), values(ortStep[name]!)), name).toBeLessThan(1e-4);
    }
  });
});
