// Behavioural cloning's data: a teacher's replies to task prompts. The teacher is a local model
// folder (greedy decoding in batches) or an OpenAI-compatible endpoint (chat completions at
// temperature 0, a few requests in flight).
import { Gemma2Model } from "@gemma-ts/core";
import { OnnxBackend } from "@gemma-ts/core/node";
import { evaluateTasks, type Task } from "@gemma-ts/posttrain";
import { readModelFolder } from "./model-folder.js";

export interface TeacherReplyOptions {
  maxNewTokens: number;
  threads: number | null;
  /** An endpoint teacher's model name and API key. */
  model?: string | undefined;
  apiKey?: string | undefined;
}

export async function teacherReplies(teacher: string, tasks: readonly Task[], options: TeacherReplyOptions): Promise<string[]> {
  if (/^https?:\/\//.test(teacher)) return endpointReplies(teacher, tasks, options);
  const folder = await readModelFolder(teacher);
  const model = new Gemma2Model(folder.config, folder.params, new OnnxBackend(options.threads === null ? {} : { intraOpThreads: options.threads }), { weights: "inputs" });
  try {
    const { replies } = await evaluateTasks(model, folder.tokenizer, tasks, { maxNewTokens: options.maxNewTokens, batchSize: 64 });
    return replies.map((reply) => reply.reply);
  } finally {
    await model.dispose();
  }
}

const IN_FLIGHT = 4;

async function endpointReplies(url: string, tasks: readonly Task[], options: TeacherReplyOptions): Promise<string[]> {
  const endpoint = `${url.replace(/\/+$/, "").replace(/\/v1$/, "")}/v1/chat/completions`;
  const replies = new Array<string>(tasks.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < tasks.length; i = next++) {
      const response = await fetch(endpoint, {
        method: "POST",
        headers: { "content-type": "application/json", ...(options.apiKey ? { authorization: `Bearer ${options.apiKey}` } : {}) },
        body: JSON.stringify({ ...(options.model ? { model: options.model } : {}), messages: [{ role: "user", content: tasks[i]!.prompt }], temperature: 0, max_tokens: options.maxNewTokens }),
      });
      if (!response.ok) throw new Error(`teacher ${endpoint} answered ${response.status}: ${(await response.text()).slice(0, 200)}`);
      const body = (await response.json()) as { choices?: { message?: { content?: string | null } }[] };
      replies[i] = body.choices?.[0]?.message?.content ?? "";
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  return replies;
}
