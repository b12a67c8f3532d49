// GET /metrics: Prometheus text that parses strictly, with counters that match what the clients
// saw (requests by model, endpoint and status; the usage totals), histograms with one observation
// per completed request, engine gauges that follow a running request, a client that leaves
// counted as 499, no API key needed, and one registry per server.
import { createServer, type GemmaServer } from "@gemma-ts/serve/http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parsePrometheusText, sampleValue, type Family } from "./support/prometheus-text.js";
import { MODEL, postJson, startTestServer, type TestServer } from "./support/test-server.js";

const KEY = "sk-metrics";
const auth = { authorization: `Bearer ${KEY}` };
let t: TestServer;
beforeAll(async () => {
  t = await startTestServer({ apiKey: KEY });
});
afterAll(() => t.stop());

async function scrape(url = t.url): Promise<{ text: string; families: Map<string, Family> }> {
  const response = await fetch(`${url}/metrics`, { headers: auth });
  expect(response.status).toBe(200);
  expect(response.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
  const text = await response.text();
  return { text, families: parsePrometheusText(text) };
}

/** Scrapes until `ready` holds: a response's counts land when its socket write completes. */
async function scrapeWhen(ready: (families: Map<string, Family>) => boolean, url = t.url): Promise<{ text: string; families: Map<string, Family> }> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const scraped = await scrape(url);
    if (ready(scraped.families) || Date.now() > deadline) return scraped;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const requestsTotal = (families: Map<string, Family>) => families.get("gemma_ts_requests_total")?.samples.reduce((sum, sample) => sum + sample.value, 0) ?? 0;

describe("GET /metrics", () => {
  it("counts requests by status and tokens as the usage, and times each completed request", async () => {
    const before = await scrape();
    expect(requestsTotal(before.families)).toBe(0);
    // Families are declared before anything happened, so dashboards see them at once.
    for (const name of ["gemma_ts_requests_total", "gemma_ts_prompt_tokens_total", "gemma_ts_generation_tokens_total", "gemma_ts_time_to_first_token_seconds"]) {
      expect(before.families.has(name)).toBe(true);
    }

    const messages = [{ role: "user" as const, content: "Tell me about the Union." }];
    const chat = await t.client.chat.completions.create({ model: MODEL, messages, max_tokens: 6, temperature: 0 });
    const usages = [chat.usage!];
    const completionStream = await t.client.completions.create({ model: MODEL, prompt: "The state of the Union", max_tokens: 7, temperature: 0, stream: true, stream_options: { include_usage: true } });
    for await (const chunk of completionStream) if (chunk.usage) usages.push(chunk.usage);
    const chatStream = await t.client.chat.completions.create({ model: MODEL, messages, max_tokens: 5, temperature: 0.7, seed: 1, stream: true, stream_options: { include_usage: true } });
    for await (const chunk of chatStream) if (chunk.usage) usages.push(chunk.usage);
    expect(usages).toHaveLength(3);

    const invalid = await postJson(`${t.url}/v1/chat/completions`, { model: MODEL, messages, temperature: 3 }, auth);
    expect(invalid.status).toBe(400);
    const unknown = await postJson(`${t.url}/v1/completions`, { model: "no-such-model", prompt: "x" }, auth);
    expect(unknown.status).toBe(404);
    const noKey = await postJson(`${t.url}/v1/completions`, { model: MODEL, prompt: "x" });
    expect(noKey.status).toBe(401);

    const { text, families } = await scrapeWhen((scraped) => requestsTotal(scraped) >= 6);
    const lines = text.split("\n");
    // prom-client writes labels in the order declared: model, endpoint, status.
    expect(lines).toContain(`gemma_ts_requests_total{model="${MODEL}",endpoint="/v1/chat/completions",status="200"} 2`);
    expect(lines).toContain(`gemma_ts_requests_total{model="${MODEL}",endpoint="/v1/completions",status="200"} 1`);
    expect(lines).toContain(`gemma_ts_requests_total{model="${MODEL}",endpoint="/v1/chat/completions",status="400"} 1`);
    // A name the server does not serve, or none seen (the key is checked first), is labelled "".
    expect(lines).toContain(`gemma_ts_requests_total{model="",endpoint="/v1/completions",status="404"} 1`);
    expect(lines).toContain(`gemma_ts_requests_total{model="",endpoint="/v1/completions",status="401"} 1`);
    expect(requestsTotal(families)).toBe(6);

    const sum = (field: "prompt_tokens" | "completion_tokens") => usages.reduce((total, usage) => total + usage[field], 0);
    expect(lines).toContain(`gemma_ts_prompt_tokens_total{model="${MODEL}"} ${sum("prompt_tokens")}`);
    expect(lines).toContain(`gemma_ts_generation_tokens_total{model="${MODEL}"} ${sum("completion_tokens")}`);
    const cached = usages.reduce((total, usage) => total + (usage.prompt_tokens_details?.cached_tokens ?? 0), 0);
    expect(sampleValue(families, "gemma_ts_prompt_tokens_cached_total", { model: MODEL })).toBe(cached);

    // One observation per completed request; time per output token for those of 2 tokens or more.
    expect(lines).toContain(`gemma_ts_time_to_first_token_seconds_count{model="${MODEL}"} 3`);
    expect(lines).toContain(`gemma_ts_e2e_request_latency_seconds_count{model="${MODEL}"} 3`);
    const multiToken = usages.filter((usage) => usage.completion_tokens >= 2).length;
    expect(multiToken).toBeGreaterThan(0);
    expect(lines).toContain(`gemma_ts_time_per_output_token_seconds_count{model="${MODEL}"} ${multiToken}`);
    expect(sampleValue(families, "gemma_ts_time_to_first_token_seconds_bucket", { model: MODEL, le: "+Inf" })).toBe(3);
    expect(sampleValue(families, "gemma_ts_time_to_first_token_seconds_bucket", { model: MODEL, le: "0.001" })).toBeDefined(); // vLLM's buckets
    const ttftSum = sampleValue(families, "gemma_ts_time_to_first_token_seconds_sum", { model: MODEL })!;
    const e2eSum = sampleValue(families, "gemma_ts_e2e_request_latency_seconds_sum", { model: MODEL })!;
    expect(ttftSum).toBeGreaterThan(0);
    expect(e2eSum).toBeGreaterThanOrEqual(ttftSum); // each request's first token precedes its end
    expect(e2eSum).toBeLessThan(60);

    expect(families.get("gemma_ts_num_requests_running")!.type).toBe("gauge");
    expect(lines).toContain(`gemma_ts_num_requests_running{model="${MODEL}"} 0`);
    expect(lines).toContain(`gemma_ts_num_requests_waiting{model="${MODEL}"} 0`);
    expect(lines).toContain("gemma_ts_requests_in_flight 0");
  });

  it("shows a running request in the gauges, and counts a client that leaves as 499", async () => {
    const before = await scrape();
    const left = (families: Map<string, Family>) => sampleValue(families, "gemma_ts_requests_total", { model: MODEL, endpoint: "/v1/completions", status: "499" }) ?? 0;
    const controller = new AbortController();
    const response = await fetch(`${t.url}/v1/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", ...auth },
      body: JSON.stringify({ model: MODEL, prompt: "The Union", max_tokens: 200, temperature: 1, seed: 3, stream: true, stop: null }),
      signal: controller.signal,
    });
    const reader = response.body!.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toMatch(/^data: /);
    const during = await scrape();
    expect(sampleValue(during.families, "gemma_ts_num_requests_running", { model: MODEL })).toBe(1);
    expect(sampleValue(during.families, "gemma_ts_num_requests_waiting", { model: MODEL })).toBe(0);
    expect(sampleValue(during.families, "gemma_ts_requests_in_flight")).toBe(1);
    controller.abort();

    const after = await scrapeWhen((families) => left(families) === left(before.families) + 1 && sampleValue(families, "gemma_ts_num_requests_running", { model: MODEL }) === 0);
    expect(left(after.families)).toBe(left(before.families) + 1);
    expect(sampleValue(after.families, "gemma_ts_num_requests_running", { model: MODEL })).toBe(0);
    // It completed nothing: no tokens counted, no latency observed.
    for (const name of ["gemma_ts_generation_tokens_total", "gemma_ts_prompt_tokens_total"]) {
      expect(sampleValue(after.families, name, { model: MODEL })).toBe(sampleValue(before.families, name, { model: MODEL }));
    }
    const e2eCount = (families: Map<string, Family>) => sampleValue(families, "gemma_ts_e2e_request_latency_seconds_count", { model: MODEL });
    expect(e2eCount(after.families)).toBe(e2eCount(before.families));
  });

  it("keeps one registry per server: a second server in the process counts only its own requests", async () => {
    let second: GemmaServer | undefined;
    try {
      second = createServer({ models: [t.model] });
      const url = (await second.listen(0, "127.0.0.1")).url;
      const firstBefore = requestsTotal((await scrape()).families);
      expect(requestsTotal((await scrape(url)).families)).toBe(0);
      const answer = await postJson(`${url}/v1/completions`, { model: MODEL, prompt: "The", max_tokens: 2 });
      expect(answer.status).toBe(200);
      const { text } = await scrapeWhen((families) => requestsTotal(families) === 1, url);
      expect(text.split("\n")).toContain(`gemma_ts_requests_total{model="${MODEL}",endpoint="/v1/completions",status="200"} 1`);
      expect(requestsTotal((await scrape()).families)).toBe(firstBefore);
    } finally {
      await second?.close();
    }
  });

  it("is checked by a reader that rejects what Prometheus would", () => {
    const good = '# HELP a_total A.\n# TYPE a_total counter\na_total{x="q\\"\\\\"} 2\n# TYPE h histogram\nh_bucket{le="1"} 1\nh_bucket{le="+Inf"} 2\nh_sum 3\nh_count 2\n';
    expect(sampleValue(parsePrometheusText(good), "a_total", { x: 'q"\\' })).toBe(2);
    for (const bad of [
      "a_total 1\n", // no TYPE
      "# TYPE a counter\na{x=\"1\"} one\n", // not a number
      "# TYPE a counter\na{x=1} 1\n", // unquoted label value
      "# TYPE a counter\na 1", // no final line feed
      "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n", // not cumulative
      "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n", // no +Inf bucket
    ]) {
      expect(() => parsePrometheusText(bad)).toThrow();
    }
  });

  it("needs the API key like every route but /health (Prometheus sends it as a bearer token)", async () => {
    expect((await fetch(`${t.url}/metrics`, { headers: { authorization: "Bearer sk-wrong" } })).status).toBe(401);
    expect((await fetch(`${t.url}/metrics?name[]=x`)).status).toBe(401);
    expect((await fetch(`${t.url}/metrics`, { headers: auth })).status).toBe(200);
    expect((await fetch(`${t.url}/health`)).status).toBe(200);
    expect((await fetch(`${t.url}/v1/models`)).status).toBe(401);
    expect((await fetch(`${t.url}/nope`)).status).toBe(401); // unknown routes still need the key
  });
});
