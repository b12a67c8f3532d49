// The Vercel AI SDK (ai 5, @ai-sdk/openai-compatible) unchanged against the server: generateText
// and streamText, tool() with toolChoice required and auto, and a two-step tool loop (stopWhen):
// the forced call's input validates against the tool's zod schema, the tool runs, and the model
// answers after its result. On random weights and on the briefly trained model
// (support/trained-model.ts).
import { createOpenAICompatible } from "@ai-sdk/openai-compatible";
import { generateText, stepCountIs, streamText, tool } from "ai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { MODEL, startTestServer, WEIGHTS, type TestServer } from "./support/test-server.js";

const weatherInput = z.object({ city: z.string(), unit: z.enum(["celsius", "fahrenheit"]) });

describe.each(WEIGHTS)("on %s weights", (weights) => {
  let t: TestServer;
  let gemma: ReturnType<typeof createOpenAICompatible>;
  beforeAll(async () => {
    t = await startTestServer({ weights, testModel: { config: { maxPositionEmbeddings: 2048 } } });
    gemma = createOpenAICompatible({ name: "gemma-ts", baseURL: `${t.url}/v1`, apiKey: "unused" });
  });
  afterAll(() => t.stop());

  describe("Vercel AI SDK", () => {
    it("generateText and streamText answer in text", async () => {
      const { text, usage } = await generateText({ model: gemma(MODEL), prompt: "Tell me about the Union.", maxOutputTokens: 6, temperature: 0 });
      expect(text.length).toBeGreaterThan(0);
      expect(usage.outputTokens).toBe(6);
      const result = streamText({ model: gemma(MODEL), prompt: "Tell me about the Union.", maxOutputTokens: 6, temperature: 0 });
      let streamed = "";
      for await (const delta of result.textStream) streamed += delta;
      expect(streamed).toBe(text);
    });

    it("toolChoice required: the call's input validates against the zod schema and the tool runs", async () => {
      const seen: unknown[] = [];
      const getWeather = tool({ description: "The forecast for a city.", inputSchema: weatherInput, execute: async (input) => {
          seen.push(input);
          return { forecast: "sunny" };
        },
      });
      for (const seed of [1, 2]) {
        const result = await generateText({ model: gemma(MODEL), prompt: "Weather in Paris?", tools: { getWeather }, toolChoice: "required", maxOutputTokens: 120, seed });
        expect(result.finishReason).toBe("tool-calls");
        expect(result.toolCalls).toHaveLength(1);
        expect(weatherInput.safeParse(result.toolCalls[0]!.input).success).toBe(true);
        expect(result.toolResults[0]!.output).toEqual({ forecast: "sunny" });
      }
      expect(seen).toHaveLength(2);
    });

    it("streamText with a named tool: the streamed call assembles and validates", async () => {
      const getWeather = tool({ description: "The forecast for a city.", inputSchema: weatherInput });
      const result = streamText({ model: gemma(MODEL), prompt: "Weather?", tools: { getWeather }, toolChoice: { type: "tool", toolName: "getWeather" }, maxOutputTokens: 120, seed: 3 });
      const calls = await result.toolCalls;
      expect(calls).toHaveLength(1);
      expect(weatherInput.safeParse(calls[0]!.input).success).toBe(true);
      expect(await result.finishReason).toBe("tool-calls");
    });

    // A greeting needs no tool: random weights answer in text by chance, the trained model as it learned.
    it("toolChoice auto answers a greeting in text", async () => {
      const getWeather = tool({ description: "The forecast for a city.", inputSchema: weatherInput });
      const result = await generateText({ model: gemma(MODEL), prompt: "Hello", tools: { getWeather }, toolChoice: "auto", maxOutputTokens: 6, temperature: 0 });
      expect(result.toolCalls).toHaveLength(0);
      expect(result.text.length).toBeGreaterThan(0);
    });

    it("a two-step tool loop: the call, its result, then the model's answer (stopWhen)", async () => {
      let executed = 0;
      const getWeather = tool({ description: "The forecast for a city.", inputSchema: weatherInput, execute: async () => {
          executed++;
          return { forecast: "rain" };
        },
      });
      const result = await generateText({
        model: gemma(MODEL),
        prompt: "Weather in Paris?",
        tools: { getWeather },
        // Force the call on the first step only; the second step answers with the result.
        prepareStep: ({ stepNumber }) => (stepNumber === 0 ? { toolChoice: "required" } : { toolChoice: "none" }),
        stopWhen: stepCountIs(2),
        maxOutputTokens: 120,
        seed: 4,
      });
      expect(executed).toBe(1);
      expect(result.steps).toHaveLength(2);
      expect(result.steps[0]!.toolCalls).toHaveLength(1);
      expect(result.steps[1]!.toolCalls).toHaveLength(0);
      // The second request carried the call and its result (a tool message), which the server rendered.
      const sent = JSON.parse(String(result.steps[1]!.request.body)) as { messages: { role: string; content: unknown }[] };
      expect(sent.messages.map((message) => message.role)).toEqual(["user", "assistant", "tool"]);
      expect(result.steps[1]!.text.length).toBeGreaterThan(0);
    });
  });
});
