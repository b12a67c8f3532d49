// gemma-ts distill on-policy: the student (a Hugging Face folder) generates completions of chat
// prompts, a teacher (a local Hugging Face or exported ONNX folder, or an OpenAI-compatible
// endpoint) scores them, and the student trains on the teacher's top-k (the distill package's
// distillOnPolicy). Prompts are rendered with the Gemma chat template up to the model
// turn header; a conversation that ends with an assistant message gives that message as the
// dataset's response (the off-policy data lambda mixes in). The student's weights, its tokenizer
// and one JSON line per step (metrics.jsonl) are written to the output folder.
import { appendFile, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { loadHfCheckpoint, OnnxBackend, saveHfCheckpoint } from "@gemma-ts/core/node";
import { isChatDocument, readDocuments, tokenizerFingerprint } from "@gemma-ts/data";
import { distillOnPolicy, LocalTeacher, type OnPolicyExample, type OnPolicyStepRecord, OpenAITeacher, type Teacher, VocabularyMismatchError } from "@gemma-ts/distill";
import { ChatTemplateError, renderGemmaChat, type Tokenizer, tokenizerFromJson } from "@gemma-ts/tokenizer";
import { InvalidArgumentError } from "commander";
import { distillErrorsAsUsage } from "./distill-errors.js";
import { withKeyHint } from "./store-run.js";

export const ON_POLICY_METRICS_FILE = "metrics.jsonl";

export interface OnPolicyRunSettings {
  student: string;
  teacher: string;
  prompts: string;
  out: string;
  lambda: number;
  beta: number;
  steps: number;
  batchSize: number;
  maxNewTokens: number;
  k: number;
  lr: number;
  seed: number;
  threads?: number;
  /** An endpoint teacher's model name (default: its only one) and context length (default: what /v1/models reports). */
  teacherModel?: string;
  teacherContext?: number;
  /** An endpoint teacher's API key, sent as Authorization: Bearer. */
  apiKey?: string | undefined;
}

export async function runOnPolicy(settings: OnPolicyRunSettings, say: (line: string) => void): Promise<OnPolicyStepRecord[]> {
  const tokenizerJson = await readFile(join(settings.student, "tokenizer.json")).catch((error: Error) => {
    throw new InvalidArgumentError(`--student ${settings.student} has no readable tokenizer.json (${error.message})`);
  });
  const tokenizer = tokenizerFromJson(tokenizerJson);
  const examples = await promptExamples(settings.prompts, tokenizer);
  const { config, params } = await loadHfCheckpoint(settings.student);
  const teacher = await distillErrorsAsUsage(() => openTeacher(settings, tokenizer), withKeyHint);
  try {
    const fingerprint = tokenizerFingerprint(tokenizer);
    if (teacher.vocabulary.fingerprint !== fingerprint) {
      throw new InvalidArgumentError(new VocabularyMismatchError("tokenizer", teacher.vocabulary.fingerprint, fingerprint).message);
    }
    await mkdir(settings.out, { recursive: true });
    const metrics = join(settings.out, ON_POLICY_METRICS_FILE);
    await rm(metrics, { force: true });
    const responses = examples.filter((example) => example.response !== undefined).length;
    say(
      `distilling on-policy from ${settings.teacher}: ${examples.length} prompts (${responses} with responses), ${settings.steps} steps of ${settings.batchSize}, lambda ${responses === 0 ? "1 (no responses)" : settings.lambda}, beta ${settings.beta}, top-${settings.k}`,
    );
    const stopTokens = [tokenizer.special.endOfTurn, tokenizer.special.eos].filter((id): id is number => id !== undefined);
    const { params: trained, records } = await distillErrorsAsUsage(() =>
      distillOnPolicy({
        config,
        params,
        backend: new OnnxBackend(settings.threads === undefined ? {} : { intraOpThreads: settings.threads }),
        teacher,
        examples,
        steps: settings.steps,
        batchSize: settings.batchSize,
        maxNewTokens: settings.maxNewTokens,
        k: settings.k,
        beta: settings.beta,
        lambda: settings.lambda,
        lr: settings.lr,
        seed: settings.seed,
        stopTokens,
        onStep: async (record) => {
          await appendFile(metrics, `${JSON.stringify(record)}\n`);
          say(`step ${record.step + 1}/${settings.steps}: jsd ${record.loss.toFixed(4)} over ${record.tokens} ${record.onPolicy ? "sampled" : "dataset"} tokens`);
        },
      }),
      withKeyHint,
    );
    await saveHfCheckpoint(settings.out, config, trained);
    await writeFile(join(settings.out, "tokenizer.json"), tokenizerJson);
    return records;
  } finally {
    await teacher.close();
  }
}

/** A folder run here (Hugging Face or exported ONNX), or an OpenAI-compatible endpoint (it checks its vocabulary against the student's tokenizer). */
async function openTeacher(settings: OnPolicyRunSettings, tokenizer: Tokenizer): Promise<Teacher> {
  if (!/^https?:\/\//i.test(settings.teacher)) return LocalTeacher.fromFolder(settings.teacher, settings.threads === undefined ? {} : { threads: settings.threads });
  return OpenAITeacher.connect({
    url: settings.teacher,
    tokenizer,
    ...(settings.apiKey === undefined ? {} : { apiKey: settings.apiKey }),
    ...(settings.teacherModel === undefined ? {} : { model: settings.teacherModel }),
    ...(settings.teacherContext === undefined ? {} : { contextLength: settings.teacherContext }),
  });
}

/** The prompts file's conversations as token ids: the prompt up to the model turn header, and the final assistant message if any. */
async function promptExamples(path: string, tokenizer: Tokenizer): Promise<OnPolicyExample[]> {
  const examples: OnPolicyExample[] = [];
  const encode = (text: string) => Array.from(tokenizer.encode(text, { addSpecialTokens: false }).ids);
  for await (const document of readDocuments(path)) {
    const at = `${path}: document ${examples.length + 1}`;
    if (!isChatDocument(document)) throw new InvalidArgumentError(`${at} is not a chat ({"messages": [...]}); on-policy distillation needs prompts`);
    const last = document.messages.at(-1);
    const answered = last?.role === "assistant";
    const prompt = answered ? document.messages.slice(0, -1) : document.messages;
    if (prompt.length === 0) throw new InvalidArgumentError(`${at} has no user message to prompt with`);
    let text: string;
    try {
      text = renderGemmaChat(prompt, { addGenerationPrompt: true });
    } catch (error) {
      if (!(error instanceof ChatTemplateError)) throw error;
      throw new InvalidArgumentError(`${at}: ${error.message}`);
    }
    // The response ends its turn, so the student learns to stop where the data does.
    examples.push({ prompt: encode(text), ...(answered ? { response: encode(`${last.content.trim()}<end_of_turn>`) } : {}) });
  }
  if (examples.length === 0) throw new InvalidArgumentError(`${path} holds no prompts`);
  return examples;
}
