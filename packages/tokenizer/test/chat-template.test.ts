// Gemma's chat format against the chat_template of Gemma's tokenizer_config.json, rendered by
// Hugging Face's own Jinja implementation (@huggingface/jinja), the one transformers.js uses;
// it defines raise_exception itself.
import { readFileSync } from "node:fs";
import { Template } from "@huggingface/jinja";
import { beforeAll, describe, expect, it } from "vitest";
import { ChatTemplateError, type ChatMessage, type Tokenizer } from "../src/index.js";
import { loadTokenizer } from "../src/node.js";
import { GEMMA_TOKENIZER_CONFIG, GEMMA_TOKENIZER_JSON } from "./support/fixtures.js";

const config = JSON.parse(readFileSync(GEMMA_TOKENIZER_CONFIG, "utf8")) as { chat_template: string; bos_token: string };
const template = new Template(config.chat_template);
let tokenizer: Tokenizer;

beforeAll(async () => {
  tokenizer = await loadTokenizer(GEMMA_TOKENIZER_JSON);
});

function reference(messages: ChatMessage[], addGenerationPrompt: boolean): string {
  return template.render({
    messages,
    bos_token: config.bos_token,
    add_generation_prompt: addGenerationPrompt,
  });
}

const conversations: ChatMessage[][] = [
  [],
  [{ role: "user", content: "Hello!" }],
  [
    { role: "user", content: "  What is 2+2?\n" },
    { role: "assistant", content: "4.\n\n" },
    { role: "user", content: "\tAnd 3+3? " },
  ],
  [
    { role: "user", content: "Write <b>bold</b> code:\n```js\nx = 1;\n```" },
    { role: "model", content: "Sure <end_of_turn> trick" },
  ],
  [{ role: "user", content: "中文 😀 e\u0301" }],
];

describe("applyChatTemplate", () => {
  for (const [index, messages] of conversations.entries()) {
    for (const addGenerationPrompt of [false, true]) {
      it(`renders conversation ${index} like the Jinja template (generation prompt: ${addGenerationPrompt})`, () => {
        expect(tokenizer.applyChatTemplate(messages, { addGenerationPrompt })).toBe(reference(messages, addGenerationPrompt));
      });
    }
  }

  it("produces Gemma's turn ids", () => {
    const text = tokenizer.applyChatTemplate([{ role: "user", content: "hi" }], { addGenerationPrompt: true });
    // The template already holds <bos>: encode without the post-processor's second one.
    const ids = Array.from(tokenizer.encode(text, { addSpecialTokens: false }).ids);
    expect(ids.slice(0, 2)).toEqual([2, 106]);
    expect(ids).toContain(107);
    expect(tokenizer.decode(ids)).toBe(text);
  });

  it("rejects a system message and non-alternating roles, as the template does", () => {
    const system: ChatMessage[] = [{ role: "system", content: "be brief" }];
    expect(() => reference(system, false)).toThrow("System role not supported");
    expect(() => tokenizer.applyChatTemplate(system)).toThrow(ChatTemplateError);
    const twice: ChatMessage[] = [
      { role: "user", content: "a" },
      { role: "user", content: "b" },
    ];
    expect(() => reference(twice, false)).toThrow("Conversation roles must alternate");
    expect(() => tokenizer.applyChatTemplate(twice)).toThrow(/Conversation roles must alternate/);
  });
});
