// gemma-ts chat: a conversation on stdin/stdout. Each turn renders the whole history with Gemma's
// chat template and runs it on one Engine, whose prefix cache then recomputes only the new turn.
// /reset forgets the history, /exit or end of input quits; Ctrl-C stops a reply mid-way; a
// conversation that outgrows the context is reported and the session goes on.
import { once } from "node:events";
import { createInterface } from "node:readline";
import { chatPromptIds, ContextLengthExceededError } from "@gemma-ts/serve";
import { closeServedModel } from "@gemma-ts/serve/http";
import { Command } from "commander";
import { openModel } from "../open-model.js";
import { samplingOf, withSamplingFlags, type SamplingFlags } from "../sampling-flags.js";

interface Turn {
  role: "system" | "user" | "assistant";
  content: string;
}

export function chatCommand(): Command {
  return withSamplingFlags(
    new Command("chat")
      .description("chat with a model folder on the terminal (Gemma's chat template, multi-turn)")
      .requiredOption("--model <dir>", "a Hugging Face model folder holding tokenizer.json")
      .option("--system <text>", "instructions put in front of the first user turn"),
  ).action(async (options: SamplingFlags & { model: string; system?: string }) => {
    const model = await openModel(options.model, options);
    const interactive = process.stdin.isTTY === true;
    const lines = createInterface({ input: process.stdin, output: process.stdout, terminal: interactive });
    const system: Turn[] = options.system ? [{ role: "system", content: options.system }] : [];
    const history: Turn[] = [];
    const sampling = samplingOf(options);
    let replying: AbortController | undefined;
    // Ctrl-C during a reply ends the reply; at the prompt it quits.
    lines.on("SIGINT", () => (replying ? replying.abort() : lines.close()));
    if (interactive) process.stderr.write("Type a message; /reset clears the conversation, /exit quits.\n");
    const prompt = () => interactive && lines.prompt();
    lines.setPrompt("> ");
    prompt();
    try {
      for await (const line of lines) {
        const text = line.trim();
        if (text === "/exit" || text === "/quit") break;
        if (text === "/reset") {
          history.length = 0;
          prompt();
          continue;
        }
        if (text === "") {
          prompt();
          continue;
        }
        history.push({ role: "user", content: text });
        replying = new AbortController();
        try {
          const reply = await replyTo(model, [...system, ...history], { ...sampling, seed: sampling.seed! + history.length }, options, replying.signal);
          history.push({ role: "assistant", content: reply });
        } catch (error) {
          if (!(error instanceof ContextLengthExceededError)) throw error;
          // The conversation outgrew the context: say so and keep the session, minus this turn.
          history.pop();
          process.stderr.write(`gemma-ts: ${error.message}; /reset starts a new conversation\n`);
        } finally {
          replying = undefined;
        }
        prompt();
      }
    } finally {
      lines.close();
      await closeServedModel(model);
    }
  });
}

async function replyTo(
  model: Awaited<ReturnType<typeof openModel>>,
  history: readonly Turn[],
  sampling: ReturnType<typeof samplingOf>,
  options: SamplingFlags,
  signal: AbortSignal,
): Promise<string> {
  const { chunks } = model.engine.complete({
    promptIds: chatPromptIds(model.tokenizer, history),
    maxTokens: options.maxTokens,
    sampling,
    ...(options.stop.length > 0 ? { stop: options.stop } : {}),
    signal,
  });
  let reply = "";
  try {
    for await (const chunk of chunks) {
      reply += chunk.text;
      if (!process.stdout.write(chunk.text)) await once(process.stdout, "drain");
    }
  } catch (error) {
    if (!signal.aborted) throw error;
  }
  process.stdout.write("\n");
  return reply;
}
