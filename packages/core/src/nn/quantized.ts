// Block-quantized weights in the IR (quant/blocks.ts): a linear layer runs on the packed blocks
// (matmulNBits, onnxruntime's MatMulNBits kernel); where float values are needed (embedding rows
// picked by gather, the gradient of a linear layer) the blocks are dequantized with plain ops.
import { InvalidArgumentError } from "../errors.js";
import type { SymbolicTensor } from "../graph/builder.js";
import { QUANT_BLOCK, type QuantBits } from "../quant/blocks.js";
import { isLora, type LoraWeight } from "./lora.js";

/** A block-quantized [rows, cols] matrix in a graph. */
export interface QuantizedWeight {
  readonly bits: QuantBits;
  /** uint8 [rows, cols / 32, 32 * bits / 8] */
  readonly blocks: SymbolicTensor;
  /** float32 [rows * cols / 32] */
  readonly scales: SymbolicTensor;
}

/** A weight as a linear layer or an embedding reads it: float [rows, cols], quantized, or with a LoRA update. */
export type Weight = SymbolicTensor | QuantizedWeight | LoraWeight;

export function isQuantized(weight: Weight): weight is QuantizedWeight {
  return "blocks" in weight;
}

/**
 * Float values of packed blocks: blocks uint8 [..., n, bytes] with scales [..., n] ->
 * float32 [..., n * 32]. The 4-bit pairs are split with integer division, so only IR ops are used.
 */
export function dequantizeBlocks(blocks: SymbolicTensor, scales: SymbolicTensor, bits: QuantBits): SymbolicTensor {
  const lead = blocks.shape.slice(0, -1);
  const bytes = blocks.shape[blocks.rank - 1]!;
  let codes: SymbolicTensor;
  if (bits === 8) {
    codes = blocks.cast("float32");
  } else {
    const packed = blocks.cast("int32");
    const high = packed.div(16);
    const low = packed.sub(high.mul(16));
    const pairs = blocks.builder.concat([low.reshape([...lead, bytes, 1]), high.reshape([...lead, bytes, 1])], -1);
    codes = pairs.reshape([...lead, QUANT_BLOCK]).cast("float32");
  }
  const centred = codes.sub(2 ** (bits - 1));
  const values = centred.mul(scales.reshape([...lead, 1]));
  return values.reshape([...lead.slice(0, -1), -1]);
}

/** The [rows, cols] float matrix of a quantized weight. */
export function dequantizeWeight(weight: QuantizedWeight): SymbolicTensor {
  const [rows, blockCount] = weight.blocks.shape as [number, number, number];
  return dequantizeBlocks(weight.blocks, weight.scales.reshape([rows, blockCount]), weight.bits);
}

/** Rows of an embedding table picked by integer `indices`: [...indices, cols]. */
export function gatherRows(table: Weight, indices: SymbolicTensor): SymbolicTensor {
  if (isLora(table)) throw new InvalidArgumentError("table", "an embedding table cannot carry a LoRA update");
  if (!isQuantized(table)) return table.gather(indices);
  const [rows, blockCount] = table.blocks.shape as [number, number, number];
  // Only the picked rows are dequantized: [...indices, blocks, bytes] and [...indices, blocks].
  return dequantizeBlocks(table.blocks.gather(indices), table.scales.reshape([rows, blockCount]).gather(indices), table.bits);
}
