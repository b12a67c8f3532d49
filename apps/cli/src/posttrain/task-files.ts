// The task family on disk: train and evaluation splits as JSONL ({"kind", "prompt", "answer"} a
// line), and the chats built from them ({"messages": [...]}: SFT data, or on-policy prompts whose
// assistant turn is the reference answer). Files are written atomically, so a stage cut off
// mid-write leaves none.
import { readFile } from "node:fs/promises";
import { atomicWriteFile } from "@gemma-ts/core/node";
import { type Task, TASK_KINDS, taskChat } from "@gemma-ts/posttrain";
import { InvalidArgumentError } from "commander";

export async function writeTasks(file: string, tasks: readonly Task[]): Promise<void> {
  await atomicWriteFile(file, tasks.map((task) => `${JSON.stringify({ kind: task.kind, prompt: task.prompt, answer: task.answer })}\n`).join(""));
}

export async function readTasks(file: string): Promise<Task[]> {
  const lines = (await readFile(file, "utf8")).split("\n");
  return lines.flatMap((line, i) => {
    if (line.trim() === "") return [];
    const at = `${file}:${i + 1}`;
    let task: Partial<Task>;
    try {
      task = JSON.parse(line) as Partial<Task>;
    } catch {
      throw new InvalidArgumentError(`${at} is not JSON`);
    }
    if (!TASK_KINDS.includes(task.kind as Task["kind"]) || typeof task.prompt !== "string" || typeof task.answer !== "string") {
      throw new InvalidArgumentError(`${at}: expected {"kind": one of ${TASK_KINDS.join(", ")}, "prompt": string, "answer": string}`);
    }
    return [{ kind: task.kind!, prompt: task.prompt, answer: task.answer }];
  });
}

/** One chat a line: each task's prompt and its reply (the reference answer unless `replies` gives one). */
export async function writeTaskChats(file: string, tasks: readonly Task[], replies?: readonly string[]): Promise<void> {
  await atomicWriteFile(file, tasks.map((task, i) => `${JSON.stringify(taskChat(task, replies?.[i] ?? task.answer))}\n`).join(""));
}
