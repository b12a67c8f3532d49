// A document's token ids and per-token loss mask, as they go into the shards.
//
// Every document is <bos> body <eos>, so packed documents stay apart and the model learns to end
// one. mask[i] = 1 when token i is a training target, i.e. when predicting it from the tokens
// before it is worth a loss:
//   text  1 everywhere but <bos>: a document's first token cannot be predicted from the
//         document before it in a packed row;
//   chat  the body is the Gemma chat template's rendering (renderGemmaChat without its <bos>), and
//         only the assistant's turns count: each model turn's content and its <end_of_turn> (so the
//         model learns to stop) are 1; the <start_of_turn>model\n header, the "\n" after
//         <end_of_turn>, user turns, <bos> and <eos> are 0. SFT trains on the responses only.
// A chat is encoded a segment at a time so the mask falls on token boundaries, then checked
// against the encoding of the whole rendering: the ids are always what inference would see.
import { renderGemmaChat, type ChatMessage, type Tokenizer } from "@gemma-ts/tokenizer";
import { isChatDocument, type Document } from "./documents.js";
import { InvalidArgumentError } from "./errors.js";

export interface EncodedDocument {
  ids: Int32Array;
  mask: Uint8Array;
}

export function encodeDocument(tokenizer: Tokenizer, document: Document): EncodedDocument {
  const { bos, eos } = requireBosEos(tokenizer);
  if (!isChatDocument(document)) {
    const body = tokenizer.encode(document.text, { addSpecialTokens: false }).ids;
    const ids = new Int32Array(body.length + 2);
    ids[0] = bos;
    ids.set(body, 1);
    ids[ids.length - 1] = eos;
    const mask = new Uint8Array(ids.length).fill(1);
    mask[0] = 0;
    return { ids, mask };
  }
  return encodeChat(tokenizer, document.messages, bos, eos);
}

export function requireBosEos(tokenizer: Tokenizer): { bos: number; eos: number } {
  const { bos, eos } = tokenizer.special;
  if (bos === undefined || eos === undefined) {
    throw new InvalidArgumentError("tokenizer", `documents are framed by <bos> and <eos>, and this vocabulary lacks ${bos === undefined ? "<bos>" : "<eos>"}`);
  }
  return { bos, eos };
}

function encodeChat(tokenizer: Tokenizer, messages: readonly ChatMessage[], bos: number, eos: number): EncodedDocument {
  const segments = chatSegments(messages);
  const rendered = segments.map((segment) => segment.text).join("");
  const expected = renderGemmaChat(messages, { bosToken: "" });
  // The segments are built from the template's own output; a mismatch means the template changed.
  if (rendered !== expected) throw new Error("chat segments disagree with renderGemmaChat");
  const pieces = segments.map((segment) => tokenizer.encode(segment.text, { addSpecialTokens: false }).ids);
  const length = pieces.reduce((total, piece) => total + piece.length, 2);
  const ids = new Int32Array(length);
  const mask = new Uint8Array(length);
  ids[0] = bos;
  let at = 1;
  pieces.forEach((piece, i) => {
    ids.set(piece, at);
    if (segments[i]!.trained) mask.fill(1, at, at + piece.length);
    at += piece.length;
  });
  ids[at] = eos;
  const whole = tokenizer.encode(expected, { addSpecialTokens: false }).ids;
  if (!sameIds(whole, ids.subarray(1, at))) {
    throw new InvalidArgumentError(
      "tokenizer",
      "it merges tokens across a chat turn boundary (is <start_of_turn>, <end_of_turn> or \"\\n\" missing from its added tokens?), so an assistant-only loss mask cannot be placed",
    );
  }
  return { ids, mask };
}

interface Segment {
  text: string;
  trained: boolean;
}

/** The template's rendering cut where the loss mask changes. */
function chatSegments(messages: readonly ChatMessage[]): Segment[] {
  const segments: Segment[] = [];
  for (const message of messages) {
    const content = templateContent(message.content);
    if (message.role === "assistant" || message.role === "model") {
      segments.push({ text: "<start_of_turn>model\n", trained: false });
      segments.push({ text: `${content}<end_of_turn>`, trained: true });
      segments.push({ text: "\n", trained: false });
    } else {
      segments.push({ text: `<start_of_turn>${message.role}\n${content}<end_of_turn>\n`, trained: false });
    }
  }
  return segments;
}

const USER_OPEN = "<start_of_turn>user\n";
const TURN_CLOSE = "<end_of_turn>\n";

/** A message's content as the template writes it (it trims whitespace, Python's way). */
function templateContent(content: string): string {
  const turn = renderGemmaChat([{ role: "user", content }], { bosToken: "" });
  return turn.slice(USER_OPEN.length, turn.length - TURN_CLOSE.length);
}

function sameIds(a: Int32Array, b: Int32Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
