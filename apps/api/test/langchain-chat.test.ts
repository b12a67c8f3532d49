// LangChain JS's ChatOpenAI unchanged against the server (configuration.baseURL): invoke, stream,
// batch, and bindTools with a named tool_choice, whose call's args validate against the tool's
// zod schema. On random weights and on the briefly trained model (support/trained-model.ts).
import { tool } from "@langchain/core/tools";
import { ChatOpenAI } from "@langchain/openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { MODEL, startTestServer, WEIGHTS, type TestServer } from "./support/test-server.js";

describe.each(WEIGHTS)("on %s weights", (weights) => {
  let t: TestServer;
  let chat: ChatOpenAI;
  beforeAll(async () => {
    t = await startTestServer({ weights, testModel: { config: { maxPositionEmbeddings: 2048 } } });
    chat = new ChatOpenAI({ model: MODEL, apiKey: "unused", configuration: { baseURL: `${t.url}/v1` }, maxTokens: 6, temperature: 0, maxRetries: 0 });
  });
  afterAll(() => t.stop());

  describe("LangChain ChatOpenAI", () => {
    it("invoke, stream and batch answer in text", async () => {
      const message = await chat.invoke("Tell me about the Union.");
      expect(typeof message.content).toBe("string");
      expect((message.content as string).length).toBeGreaterThan(0);
      let streamed = "";
      for await (const chunk of await chat.stream("Tell me about the Union.")) streamed += chunk.content as string;
      expect(streamed).toBe(message.content);
      const answers = await chat.batch(["Hello", "Tell me about the Union."]);
      expect(answers).toHaveLength(2);
      expect(answers[1]!.content).toBe(message.content);
    });

    it("bindTools with a named tool_choice: the call's args validate", async () => {
      const schema = z.object({ city: z.string(), days: z.number().int() });
      const weather = tool(async () => "sunny", { name: "get_weather", description: "The forecast for a city.", schema });
      const withTools = new ChatOpenAI({ model: MODEL, apiKey: "unused", configuration: { baseURL: `${t.url}/v1` }, maxTokens: 60, maxRetries: 0 }).bindTools([weather], { tool_choice: { type: "function", function: { name: "get_weather" } } });
      for (const seed of [1, 2]) {
        const message = await withTools.invoke("Weather in Paris?", { seed } as never);
        expect(message.tool_calls).toHaveLength(1);
        expect(message.tool_calls![0]!.name).toBe("get_weather");
        expect(schema.safeParse(message.tool_calls![0]!.args).success).toBe(true);
      }
    });
  });
});
