// Tasks as the model sees them: the user's message rendered with Gemma's chat template up to the
// model turn header, as serving renders a one-turn chat; and as SFT data, chats whose assistant
// turn is the reply to learn (the data package masks the loss to it).
import type { ChatMessage, Tokenizer } from "@gemma-ts/tokenizer";
import { renderGemmaChat } from "@gemma-ts/tokenizer";
import type { Task } from "./task-family.js";

/** The prompt's ids: <bos><start_of_turn>user\n{prompt}<end_of_turn>\n<start_of_turn>model\n. */
export function taskPromptIds(tokenizer: Tokenizer, task: Pick<Task, "prompt">): number[] {
  const text = renderGemmaChat([{ role: "user", content: task.prompt }], { addGenerationPrompt: true });
  return Array.from(tokenizer.encode(text, { addSpecialTokens: false }).ids);
}

/** A chat document for SFT: the task's prompt and a reply (its answer, or a teacher's reply). */
export function taskChat(task: Pick<Task, "prompt" | "answer">, reply: string = task.answer): { messages: ChatMessage[] } {
  return {
    messages: [
      { role: "user", content: task.prompt },
      { role: "assistant", content: reply },
    ],
  };
}

/** Where a reply ends: <end_of_turn> or <eos>. */
export function replyStopTokens(tokenizer: Tokenizer): number[] {
  return [tokenizer.special.endOfTurn, tokenizer.special.eos].filter((id): id is number => id !== undefined);
}
