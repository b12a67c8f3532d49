// Which keys each query may see. Gemma 2 alternates two kinds of layers: global layers see every
// key at or before the query; sliding ("local") layers see only the last `window` positions,
// the query's own included: key k is visible from query q when 0 <= q - k <= window - 1
// (Hugging Face's sliding_window semantics, checked against llama.cpp in the parity test).
import { HostTensor } from "../../tensor/host-tensor.js";
import type { LayerKind } from "./config.js";

/** A key slot's position, or -1 for an empty slot of a cache. */
export type KeyPositions = ArrayLike<number>;

/** bool [queries, keys]: true where the query may attend to the key. */
export function attentionMask(queryPositions: ArrayLike<number>, keyPositions: KeyPositions, kind: LayerKind, window: number): HostTensor<"bool"> {
  const mask = HostTensor.zeros("bool", [queryPositions.length, keyPositions.length]);
  for (let t = 0; t < queryPositions.length; t++) {
    const query = queryPositions[t]!;
    for (let s = 0; s < keyPositions.length; s++) {
      const key = keyPositions[s]!;
      const distance = query - key;
      const visible = key >= 0 && distance >= 0 && (kind === "full_attention" || distance <= window - 1);
      mask.data[t * keyPositions.length + s] = visible ? 1 : 0;
    }
  }
  return mask;
}
