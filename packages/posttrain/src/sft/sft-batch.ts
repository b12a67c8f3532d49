// An SFT micro-batch of chats, one chat a row, right-padded: the data package encodes each chat
// (<bos> rendering <eos>, the loss mask on the assistant's turns), and the batch holds languageModeling's
// inputs: ids (each row less its last token), targets (less its first) and the mask of the targets.
import { HostTensor, type TrainBatch } from "@gemma-ts/core";
import { type ChatDocument, encodeDocument } from "@gemma-ts/data";
import type { Tokenizer } from "@gemma-ts/tokenizer";

/** The batch, and how many target tokens its mask counts. */
export function sftBatch(tokenizer: Tokenizer, chats: readonly ChatDocument[], padTokenId: number): { batch: TrainBatch; tokens: number } {
  const encoded = chats.map((chat) => encodeDocument(tokenizer, chat));
  const T = Math.max(...encoded.map(({ ids }) => ids.length - 1));
  const B = encoded.length;
  const ids = new Array<number>(B * T).fill(padTokenId);
  const targets = new Array<number>(B * T).fill(padTokenId);
  const mask = new Float32Array(B * T);
  let tokens = 0;
  encoded.forEach((row, r) => {
    for (let t = 0; t < row.ids.length - 1; t++) {
      ids[r * T + t] = row.ids[t]!;
      targets[r * T + t] = row.ids[t + 1]!;
      mask[r * T + t] = row.mask[t + 1]!;
      tokens += row.mask[t + 1]!;
    }
  });
  return { batch: { ids: HostTensor.int64([B, T], ids), targets: HostTensor.int64([B, T], targets), mask: HostTensor.float32([B, T], mask) }, tokens };
}
