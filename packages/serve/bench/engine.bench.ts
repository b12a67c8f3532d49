// Engine figures on random-weight models (speed does not depend on the weights): time to first
// token for a chat's second turn with and without prefix reuse, aggregate decode throughput with 1
// and with 8 concurrent streams, and the worst event-loop gap while decoding. Run: pnpm bench (in
// this folder).
import { Gemma2Model, initParams, presetConfig, type Gemma2Config } from "@gemma-ts/core";
import { OnnxBackend } from "@gemma-ts/core/node";
import { Engine, type CompletionRequest } from "../src/index.js";
import { collect } from "../test/support/collect.js";
import { sotuSpeeches, sotuTokenizer } from "../test/support/small-model.js";

const tokenizer = await sotuTokenizer();
const shapes: Record<string, Partial<Gemma2Config>> = {
  "gemma2-tiny shape (64 hidden, 4 layers)": { ...presetConfig("gemma2-tiny"), maxPositionEmbeddings: 1024 },
  "gemma2-7m shape (256 hidden, 6 layers)": presetConfig("gemma2-7m"),
};
const history = Array.from(tokenizer.encode(sotuSpeeches(20_000)[0]!).ids).slice(0, 800);

for (const [name, shape] of Object.entries(shapes)) {
  const config = { ...presetConfig("gemma2-tiny"), ...shape, vocabSize: tokenizer.vocabSize, maxPositionEmbeddings: 1024 } as Gemma2Config;
  const model = new Gemma2Model(config, initParams(config, 1), new OnnxBackend());
  const engine = new Engine({ model, tokenizer, maxBatchSize: 8, contextLength: 1024 });
  const request = (promptIds: number[], maxTokens: number, seed = 0): CompletionRequest => ({ promptIds, maxTokens, sampling: { temperature: 0.8, seed }, stopTokens: [] });

  // Time to first token: the second turn (800-token history + reply + question).
  const reply = (await collect(engine.complete(request(history, 16)))).ids;
  const second = [...history, ...reply, ...Array.from(tokenizer.encode(" And next?", { addSpecialTokens: false }).ids)];
  await collect(engine.complete(request(second, 4))); // compile every shape
  const reuse: number[] = [];
  const fresh: number[] = [];
  for (let round = 0; round < 5; round++) {
    engine.clearPrefixCache();
    await collect(engine.complete(request(history, 16)));
    reuse.push((await collect(engine.complete(request(second, 1)))).firstChunkMs);
    engine.clearPrefixCache();
    fresh.push((await collect(engine.complete(request(second, 1)))).firstChunkMs);
  }
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1]!;
  console.log(`${name}: time to first token, ${second.length}-token prompt: ${median(reuse).toFixed(1)} ms with prefix reuse, ${median(fresh).toFixed(1)} ms without`);

  // Throughput: 128 tokens per stream, short prompts.
  for (const streams of [1, 8]) {
    const prompts = Array.from({ length: streams }, (_, i) => Array.from(tokenizer.encode(`Stream ${i}: the state of the union`).ids));
    await Promise.all(prompts.map((ids, i) => collect(engine.complete(request(ids, 8, i))))); // warm
    // The longest the event loop waited while decoding (an HTTP server's worst added latency).
    let last = performance.now();
    let worstGap = 0;
    const timer = setInterval(() => {
      const now = performance.now();
      worstGap = Math.max(worstGap, now - last);
      last = now;
    }, 1);
    const start = performance.now();
    const results = await Promise.all(prompts.map((ids, i) => collect(engine.complete(request(ids, 128, i)))));
    const seconds = (performance.now() - start) / 1000;
    clearInterval(timer);
    const tokens = results.reduce((sum, r) => sum + r.usage.completionTokens, 0);
    console.log(
      `${name}: ${streams} stream${streams > 1 ? "s" : ""}: ${(tokens / seconds).toFixed(0)} tokens/s aggregate (${tokens} tokens in ${seconds.toFixed(2)} s); worst event-loop gap ${worstGap.toFixed(1)} ms`,
    );
  }
  await engine.close();
  await model.dispose();
}
