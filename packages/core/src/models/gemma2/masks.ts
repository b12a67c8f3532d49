// Which keys each query may see. Gemma 2 alternates two kinds of layers: global layers see every
// key at or before the query; sliding ("local") layers see only the last `window` positions,
// the query's own included: key k is visible from query q when 0 <= q - k <= window - 1
// (Hugging Face's sliding_window semantics, checked against llama.cpp in the parity test).
// The runtime builds masks on the host from its cache's slot positions (attentionMask); an
// exported graph, fed Hugging Face's attention_mask instead, builds them in the graph (slotMasks).
import type { SymbolicTensor } from "../../graph/builder.js";
import { dimSub, type Dim } from "../../graph/dims.js";
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

/**
 * The same rule in the graph, for S key slots whose last T hold the queries, as in a cache that
 * keeps every position (Optimum's past_key_values): bool [B, 1, 1, T, S] per layer kind.
 * `keyPresent` [B, S] (int or bool, non-zero for a real token) is Hugging Face's attention_mask;
 * its zeros (left padding) are seen by no query. Distances are between slots, not position ids:
 * under left padding the two differ by the row's padding, equally for queries and keys.
 */
export function slotMasks(keyPresent: SymbolicTensor, queries: Dim, window: number): Record<LayerKind, SymbolicTensor> {
  const b = keyPresent.builder;
  const [B, S] = keyPresent.shape as [Dim, Dim];
  const keySlots = b.range(0, S); // [S]
  const querySlots = b.range(dimSub(S, queries), S).reshape([queries, 1]); // [T, 1]
  const distance = querySlots.sub(keySlots); // [T, S]
  const never = b.scalar(0, "bool");
  const causal = distance.greaterOrEqual(0);
  const inWindow = b.where(causal, distance.lessOrEqual(window - 1), never);
  const present = keyPresent.cast("bool").reshape([B, 1, 1, 1, S]);
  return { full_attention: b.where(present, causal, never), sliding_attention: b.where(present, inWindow, never) };
}
