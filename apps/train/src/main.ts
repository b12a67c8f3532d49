// The main job on its built-in defaults. At this stage of gemma-ts: load Gemma's tokenizer,
// tokenize the bundled State of the Union corpus, and print what a data pipeline needs to know
// (tokens, bytes per token, throughput, the most frequent tokens, how much of the vocabulary
// the corpus uses). The training recipe replaces this once the model core exists.
import { loadTokenizer } from "@gemma-ts/tokenizer/node";
import { GEMMA_TOKENIZER_JSON, stateOfTheUnion } from "./corpus.js";

const loadStart = performance.now();
const tokenizer = await loadTokenizer(GEMMA_TOKENIZER_JSON);
const loadSeconds = (performance.now() - loadStart) / 1000;

const counts = new Uint32Array(tokenizer.vocabSize);
let documents = 0;
let bytes = 0;
let tokens = 0;
let encodeSeconds = 0;
for await (const document of stateOfTheUnion()) {
  const start = performance.now();
  const { ids } = tokenizer.encode(document.text, { addSpecialTokens: true });
  encodeSeconds += (performance.now() - start) / 1000;
  for (const id of ids) counts[id]!++;
  documents++;
  bytes += Buffer.byteLength(document.text);
  tokens += ids.length;
}

const distinct = counts.reduce((total, count) => total + (count > 0 ? 1 : 0), 0);
const top = Array.from(counts.keys())
  .sort((a, b) => counts[b]! - counts[a]!)
  .slice(0, 10)
  .map((id) => `${JSON.stringify(tokenizer.idToToken(id))} ${counts[id]}`);

const rows: [string, string][] = [
  ["tokenizer", `Gemma (${tokenizer.vocabSize.toLocaleString("en-US")} tokens), loaded in ${loadSeconds.toFixed(2)} s`],
  ["corpus", `State of the Union addresses: ${documents} documents, ${(bytes / 1e6).toFixed(2)} MB`],
  ["tokens", `${tokens.toLocaleString("en-US")} (with <bos>), ${(tokens / documents).toFixed(0)} per document`],
  ["bytes per token", (bytes / tokens).toFixed(3)],
  ["encode speed", `${(bytes / 1e6 / encodeSeconds).toFixed(2)} MB/s, ${Math.round(tokens / encodeSeconds).toLocaleString("en-US")} tokens/s`],
  ["vocabulary used", `${distinct.toLocaleString("en-US")} distinct tokens (${((100 * distinct) / tokenizer.vocabSize).toFixed(1)}%)`],
  ["most frequent", top.join(", ")],
];
for (const [label, value] of rows) console.log(`${label.padEnd(16)} ${value}`);
