// Chat documents: the ids are the Gemma chat template's rendering (renderGemmaChat) framed by
// <eos>, tokenized as the whole rendering is, and the loss mask covers exactly the assistant turns:
// each masked run decodes to one assistant message's content (as the template trims it) followed
// by <end_of_turn>, in order; nothing else is masked. Checked with Gemma's real tokenizer and a
// small trained one.
import { renderGemmaChat, trainBpe, type ChatMessage, type Tokenizer } from "@gemma-ts/tokenizer";
import { describe, expect, it } from "vitest";
import { encodeDocument, InvalidArgumentError } from "../src/index.js";
import { gemmaTokenizer, smallTokenizer } from "./support/fixtures.js";

const conversations: ChatMessage[][] = [
  [{ role: "user", content: "Hello!" }],
  [
    { role: "user", content: "  What is 2+2?\n" },
    { role: "assistant", content: "4.\n\n" },
    { role: "user", content: "\tAnd 3+3? " },
    { role: "model", content: "  6, of course.  " },
  ],
  [
    { role: "user", content: "Write <b>bold</b> code:\n```js\nx = 1;\n```" },
    { role: "assistant", content: "```js\nconst x = 1;\n```\n\nDone <end_of_turn> trick" },
  ],
  [
    { role: "user", content: "中文 😀 e\u0301" },
    { role: "assistant", content: "" },
    { role: "user", content: "\n\n\n" },
    { role: "assistant", content: "Fine.\n" },
  ],
];

function maskedRuns(ids: Int32Array, mask: Uint8Array): number[][] {
  const runs: number[][] = [];
  let run: number[] = [];
  mask.forEach((bit, i) => {
    if (bit) run.push(ids[i]!);
    else if (run.length > 0) {
      runs.push(run);
      run = [];
    }
  });
  if (run.length > 0) runs.push(run);
  return runs;
}

describe.each([
  ["Gemma's tokenizer", gemmaTokenizer],
  ["a small trained tokenizer", smallTokenizer],
])("%s", (_, load) => {
  it.each(conversations.map((messages, i) => [i, messages] as const))("conversation %i: ids and mask follow the template", async (_, messages) => {
    const tokenizer: Tokenizer = await load();
    const { ids, mask } = encodeDocument(tokenizer, { messages });
    const rendered = renderGemmaChat(messages);
    expect(tokenizer.decode(ids)).toBe(`${rendered}<eos>`);
    expect(Array.from(ids)).toEqual([...tokenizer.encode(rendered, { addSpecialTokens: false }).ids, tokenizer.special.eos]);
    const assistant = messages.filter((message) => message.role === "assistant" || message.role === "model");
    const runs = maskedRuns(ids, mask).map((run) => tokenizer.decode(run));
    // An empty assistant message leaves just <end_of_turn>; its runs never merge with a neighbour's.
    expect(runs).toEqual(assistant.map((message) => `${renderedContent(message.content)}<end_of_turn>`));
    expect(mask[0]).toBe(0);
    expect(mask[mask.length - 1]).toBe(0);
  });
});

/** What the template makes of a message's content (it strips whitespace), read off its output. */
function renderedContent(content: string): string {
  const turn = renderGemmaChat([{ role: "user", content }], { bosToken: "" });
  return turn.slice("<start_of_turn>user\n".length, -"<end_of_turn>\n".length);
}

it("masks every token of a text document but its <bos>", async () => {
  const tokenizer = await smallTokenizer();
  const { ids, mask } = encodeDocument(tokenizer, { text: "Plain text." });
  expect(Array.from(mask)).toEqual([0, ...Array(ids.length - 1).fill(1)]);
});

it("refuses a chat when the tokenizer cannot keep turn boundaries apart", async () => {
  // Without <start_of_turn> / <end_of_turn> and newline tokens, BPE merges across the boundaries.
  const plain = (await trainBpe(["<start_of_turn>model\nhello<end_of_turn>\n".repeat(50)], { vocabSize: 300, newlineTokens: 0 })).toTokenizer();
  const messages: ChatMessage[] = [
    { role: "user", content: "hi" },
    { role: "assistant", content: "hello" },
  ];
  expect(() => encodeDocument(plain, { messages })).toThrow(InvalidArgumentError);
  expect(() => encodeDocument(plain, { messages })).toThrow(/merges tokens across a chat turn boundary/);
});
