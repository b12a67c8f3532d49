// Teacher store write throughput with a local teacher (a random gemma2-1m on onnxruntime, the
// vocabulary a BPE trained here on generated text), against the same teacher's bare forward pass
// over the same calls in the same run; and the store's bytes per token at top-k 8 and 64 and
// sample 64 (float16 log-probs); then the same model served by `gemma-ts serve`'s server on
// 127.0.0.1 and read as an HTTP teacher (OpenAITeacher, prompt_logprobs) at top-k 8 and 64.
// Run: pnpm --filter @gemma-ts/distill bench
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Gemma2Model, initParams, presetConfig, Random } from "@gemma-ts/core";
import { OnnxBackend, saveHfCheckpoint } from "@gemma-ts/core/node";
import { openTokenShards, writeTokenShards } from "@gemma-ts/data";
import { closeServedModel, createServer, loadServedModel } from "@gemma-ts/serve/http";
import { GEMMA_SPECIAL_TOKENS, trainBpe } from "@gemma-ts/tokenizer";
import { LocalTeacher, OpenAITeacher, openTeacherStore, planCalls, planWindows, storeSettings, type WriteTeacherStoreOptions, writeTeacherStore } from "../src/index.js";

const DOCUMENTS = Number(process.env.DISTILL_BENCH_DOCUMENTS ?? 160);

/** Text of made-up words with a skewed frequency, so BPE learns thousands of pieces. */
function generatedTexts(count: number): string[] {
  const random = new Random(1);
  const consonants = "bcdfghjklmnprstvwz";
  const vowels = "aeiou";
  const syllable = () => consonants[Math.floor(random.uniform() * consonants.length)]! + vowels[Math.floor(random.uniform() * vowels.length)]!;
  const lexicon = Array.from({ length: 6000 }, () => Array.from({ length: 1 + Math.floor(random.uniform() * 3) }, syllable).join(""));
  return Array.from({ length: count }, () => `${Array.from({ length: 60 + Math.floor(random.uniform() * 200) }, () => lexicon[Math.floor(random.uniform() ** 2 * lexicon.length)]).join(" ")}.`);
}

const root = await mkdtemp(join(tmpdir(), "gemma-ts-distill-bench-"));
try {
  const texts = generatedTexts(3000);
  const trained = await trainBpe(texts, { vocabSize: 8000, specialTokens: GEMMA_SPECIAL_TOKENS });
  const tokenizer = trained.toTokenizer();
  const shardDir = join(root, "shards");
  await writeTokenShards({ inputs: [{ name: "generated", documents: texts.slice(0, DOCUMENTS).map((text) => ({ text })) }], tokenizer, outDir: shardDir });
  const shards = await openTokenShards(shardDir, { tokenizer });
  const config = { ...presetConfig("gemma2-1m"), vocabSize: tokenizer.vocabSize };
  const params = initParams(config, 1);
  const model = new Gemma2Model(config, params, new OnnxBackend());
  const teacher = new LocalTeacher(model, tokenizer);
  const tokens = shards.tokenCount;
  console.log(`teacher: gemma2-1m (random), vocabulary ${config.vocabSize}, context ${config.maxPositionEmbeddings}; corpus ${shards.documentCount} documents, ${tokens} tokens`);

  const base = { teacher, shards, temperature: 1, valueDtype: "float16" } as const;
  const settings = storeSettings({ ...base, outDir: root, mode: "top-k", k: 8 });
  const windows = planWindows(Array.from({ length: shards.documentCount }, (_, d) => shards.documentLengthOf(d)), settings.windowLength);
  const calls = planCalls(windows, settings.batchTokens);
  const rowsOf = async (call: { first: number; end: number }) =>
    Promise.all(
      windows.slice(call.first, call.end).map(async (window) => {
        const ids = new Int32Array(window.count);
        await shards.readInto(window.document, window.from, window.count, ids, new Uint8Array(window.count), 0);
        return Array.from(ids);
      }),
    ).then((rows) => {
      const longest = Math.max(...rows.map((row) => row.length));
      return rows.map((row) => [...row, ...new Array<number>(longest - row.length).fill(config.padTokenId)]);
    });
  // Warm up: the one graph compiles on the first call.
  await model.forward(await rowsOf(calls[0]!));
  const forwardStart = performance.now();
  for (const call of calls) await model.forward(await rowsOf(call));
  const forwardSeconds = (performance.now() - forwardStart) / 1000;
  console.log(`\n${calls.length} teacher calls of up to ${settings.batchTokens} tokens (window ${settings.windowLength})`);
  console.log(`teacher forward alone:           ${Math.round(tokens / forwardSeconds).toLocaleString("en-US")} tokens/s`);

  const cases: [string, Partial<WriteTeacherStoreOptions>][] = [
    ["top-k 8", { mode: "top-k", k: 8 }],
    ["top-k 64", { mode: "top-k", k: 64 }],
    ["sample 64", { mode: "sample", k: 64 }],
  ];
  for (const [name, options] of cases) {
    const outDir = join(root, name.replace(" ", "-"));
    const start = performance.now();
    const index = await writeTeacherStore({ ...base, mode: "top-k", k: 8, ...options, outDir });
    const seconds = (performance.now() - start) / 1000;
    const bytes = index.chunks.reduce((sum, chunk) => sum + chunk.bytes, 0);
    console.log(
      `store ${name.padEnd(10)} write: ${Math.round(tokens / seconds).toLocaleString("en-US").padStart(7)} tokens/s ` +
        `(${(forwardSeconds / seconds).toFixed(2)}x the bare forward), ${index.bytesPerToken} bytes/token, ${(bytes / 2 ** 20).toFixed(2)} MiB`,
    );
    if (index.mode === "sample") {
      // Slots are fixed at k; how many hold a distinct draw says what a variable-length layout would save.
      const store = await openTeacherStore(outDir, { verify: "sizes" });
      const range = await store.readRange(0, tokens);
      await store.close();
      const used = range.logprobs.reduce((count, logprob) => count + (logprob === Number.NEGATIVE_INFINITY ? 0 : 1), 0);
      console.log(`  sample ${index.k}: ${(used / tokens).toFixed(1)} distinct ids per position on average`);
    }
  }
  await teacher.close();

  // The same weights behind the OpenAI endpoint: the server's engine scores the prompts (its own
  // forward passes and log-softmax), and the JSON travels over loopback.
  const folder = join(root, "model");
  await saveHfCheckpoint(folder, config, params);
  await writeFile(join(folder, "tokenizer.json"), trained.toJsonString());
  const served = await loadServedModel(folder, { id: "teacher" });
  const server = createServer({ models: [served] });
  const { url } = await server.listen(0, "127.0.0.1");
  try {
    const http = await OpenAITeacher.connect({ url, tokenizer, contextLength: served.contextLength, batchSize: 8, concurrency: 2 });
    console.log(`\nHTTP teacher (gemma-ts serve on 127.0.0.1, ${http.scoring}), rows of up to ${http.maxContext} tokens, 8 rows per request, 2 in flight:`);
    for (const k of [8, 64]) {
      const outDir = join(root, `http-top-k-${k}`);
      const start = performance.now();
      const index = await writeTeacherStore({ ...base, teacher: http, mode: "top-k", k, windowLength: http.maxContext, outDir });
      const seconds = (performance.now() - start) / 1000;
      console.log(`store top-k ${String(k).padEnd(6)} write: ${Math.round(tokens / seconds).toLocaleString("en-US").padStart(7)} tokens/s (${(forwardSeconds / seconds).toFixed(2)}x the bare forward), ${index.bytesPerToken} bytes/token`);
    }
    await http.close();
  } finally {
    await server.close();
    await closeServedModel(served);
  }
  await shards.close();
} finally {
  await rm(root, { recursive: true, force: true });
}
