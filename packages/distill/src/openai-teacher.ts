// A teacher behind an OpenAI-compatible /v1/completions endpoint (`gemma-ts serve`, vLLM, ...),
// read through prompt scoring: rows go out as token-id prompts (no text round trip, so positions
// cannot drift) with max_tokens 0 and echo, and the server returns, per prompt token after the
// first, the distribution that predicted it. The store wants at position t the distribution of
// token t + 1 given tokens 0..t (what LocalTeacher computes from the logits at t), which is the
// entry of prompt token t + 1; for the row's last position there is no such token, so each row is
// sent with one more id appended, whose entry is that distribution (a causal model's earlier
// positions cannot see it). Entries are vLLM's `prompt_logprobs` (keyed by id) when the server
// has them, else OpenAI's echoed `top_logprobs` (keyed by token string, mapped back to ids through
// the student's vocabulary, refusing strings several ids share).
//
// Only what the log-probs determine exactly is served: "top-k" at temperature 1. "sample" needs
// every probability to draw from; another temperature needs the normaliser sum_y p(y)^(1/T) over
// the whole vocabulary, which k entries do not give (renormalising the k would be a different,
// biased target). Both are refused with an InvalidArgumentError saying why.
import { tokenizerFingerprint } from "@gemma-ts/data";
import type { Tokenizer } from "@gemma-ts/tokenizer";
import { EndpointClient } from "./endpoint-client.js";
import { InvalidArgumentError, TeacherAuthError, TeacherRequestError, TeacherResponseError, VocabularyMismatchError } from "./errors.js";
import { type RetryPolicy, retryPolicy } from "./retry.js";
import { emptyScores } from "./sparsify.js";
import type { SparseRequest, SparseScores, Teacher, TeacherRow, Vocabulary } from "./teacher.js";
import { TokenStrings } from "./token-strings.js";

/** How the server reports prompt log-probs: vLLM's `prompt_logprobs` (ids) or OpenAI's echo (strings). */
export type PromptScoring = "prompt_logprobs" | "echo";

export interface OpenAITeacherOptions {
  /** The endpoint: the API root (…/v1), or a bare origin (http://127.0.0.1:8000), which gets /v1. */
  url: string;
  /** The student's tokenizer (the shards'): the server's vocabulary is checked against it. */
  tokenizer: Tokenizer;
  /** The model to ask for (default: the endpoint's only model, from /v1/models). */
  model?: string;
  /**
   * Sent as `Authorization: Bearer <apiKey>` on every request (the models probe included). A 401
   * is a TeacherAuthError saying whether the key was refused or none was sent.
   */
  apiKey?: string;
  /**
   * The served model's context length (prompt + completion), when /v1/models does not report it
   * (vLLM's `max_model_len`). Rows are at most this minus 2: one id is appended, and the server
   * needs room for a completion even at max_tokens 0.
   */
  contextLength?: number;
  /** Default "auto": prompt_logprobs when the server answers with them, else echo. */
  scoring?: PromptScoring | "auto";
  /** Rows per request (default 8; the server's prompt-list limit bounds it, 64 for gemma-ts serve). */
  batchSize?: number;
  /** Requests in flight at once (default 4). */
  concurrency?: number;
  /** Per request, each attempt (default 300 s). */
  timeoutMs?: number;
  retry?: Partial<RetryPolicy>;
  /** Names the weights in the store's index (default: the endpoint and the model name). */
  fingerprint?: string;
}

/** Ids compared by string at connect: evenly spread over the vocabulary, both ends included. */
const PROBE_IDS = 256;

interface ModelEntry {
  id: string;
  max_model_len?: number;
}

export class OpenAITeacher implements Teacher {
  readonly fingerprint: string;
  readonly vocabulary: Vocabulary;
  readonly maxContext: number;
  private readonly batchSize: number;

  private constructor(
    private readonly client: EndpointClient,
    private readonly closer: AbortController,
    readonly model: string,
    readonly scoring: PromptScoring,
    private readonly strings: TokenStrings,
    vocabulary: Vocabulary,
    contextLength: number,
    options: OpenAITeacherOptions,
  ) {
    this.vocabulary = vocabulary;
    this.maxContext = contextLength - 2;
    this.batchSize = options.batchSize ?? 8;
    this.fingerprint = options.fingerprint ?? `openai-endpoint:${model}@${client.baseURL}`;
  }

  /**
   * Finds the model, learns whether the server has prompt_logprobs, and checks its vocabulary
   * against the student's: the token strings of PROBE_IDS ids spread over the vocabulary must be
   * the student's, the last id must be accepted and the one past it refused. A mismatch is a
   * VocabularyMismatchError; an unreachable endpoint a TeacherRequestError.
   */
  static async connect(options: OpenAITeacherOptions): Promise<OpenAITeacher> {
    const batchSize = options.batchSize ?? 8;
    if (!Number.isSafeInteger(batchSize) || batchSize < 1) throw new InvalidArgumentError("batchSize", `expected an integer >= 1, got ${batchSize}`);
    // Aborted by close(): ends the client's waits and requests in flight.
    const closer = new AbortController();
    const client = new EndpointClient({
      baseURL: apiRoot(options.url),
      apiKey: options.apiKey,
      concurrency: options.concurrency ?? 4,
      timeoutMs: options.timeoutMs ?? 300_000,
      retry: retryPolicy(options.retry),
      signal: closer.signal,
    });
    const entry = await findModel(client, options.model);
    const contextLength = options.contextLength ?? entry.max_model_len;
    if (contextLength === undefined) {
      throw new InvalidArgumentError("contextLength", `${client.baseURL}/models does not report ${entry.id}'s context length (max_model_len); give it`);
    }
    if (!Number.isSafeInteger(contextLength) || contextLength < 3) throw new InvalidArgumentError("contextLength", `expected an integer >= 3, got ${contextLength}`);
    const size = options.tokenizer.vocabSize;
    const strings = new TokenStrings(options.tokenizer, size);
    const scoring = await probeVocabulary(client, entry.id, strings, contextLength, batchSize, options.scoring ?? "auto");
    const vocabulary = { size, fingerprint: tokenizerFingerprint(options.tokenizer) };
    return new OpenAITeacher(client, closer, entry.id, scoring, strings, vocabulary, contextLength, options);
  }

  async score(rows: readonly TeacherRow[], request: SparseRequest): Promise<SparseScores> {
    checkServable(request, this.vocabulary.size);
    const { k } = request;
    let positions = 0;
    for (const row of rows) {
      if (row.ids.length === 0 || row.ids.length > this.maxContext) {
        throw new InvalidArgumentError("rows", `a row holds ${row.ids.length} ids; the teacher reads 1 to ${this.maxContext}`);
      }
      positions += row.ids.length;
    }
    const out = emptyScores(positions, k);
    const batches: { rows: readonly TeacherRow[]; index: number }[] = [];
    let index = 0;
    for (let first = 0; first < rows.length; first += this.batchSize) {
      const batch = rows.slice(first, first + this.batchSize);
      batches.push({ rows: batch, index });
      index += batch.reduce((sum, row) => sum + row.ids.length, 0);
    }
    await Promise.all(batches.map((batch) => this.scoreBatch(batch.rows, k, out, batch.index)));
    return out;
  }

  async close(): Promise<void> {
    this.closer.abort(new Error("the teacher was closed"));
  }

  /** One request for `rows`, written into `out` from slot row `index` on. */
  private async scoreBatch(rows: readonly TeacherRow[], k: number, out: SparseScores, index: number): Promise<void> {
    // Any id of the row does as the appended one; only the distribution before it is read.
    const prompts = rows.map((row) => [...row.ids, row.ids[0]!]);
    const body = scoringBody(this.model, prompts, this.scoring, k);
    const response = await this.client.post("/completions", body);
    const choices = choicesOf(response, prompts.length, this.client.baseURL);
    const url = `${this.client.baseURL}/completions`;
    let at = index;
    choices.forEach((choice, r) => {
      const entries = promptEntries(choice, this.scoring, prompts[r]!.length, url, `choices[${r}]`);
      for (let t = 1; t < entries.length; t++) {
        const field = `choices[${r}].${this.scoring === "echo" ? "logprobs.top_logprobs" : "prompt_logprobs"}[${t}]`;
        const ranked = this.scoring === "echo" ? this.fromStrings(entries[t], url, field) : fromIds(entries[t], this.vocabulary.size, url, field);
        writeTopK(ranked, k, out, at++, url, field);
      }
    });
  }

  /** Echo's `{ "<token string>": logprob }`, mapped to ids. */
  private fromStrings(entry: unknown, url: string, field: string): [number, number][] {
    if (entry === null || typeof entry !== "object") throw new TeacherResponseError(url, field, `expected an object of token strings, got ${JSON.stringify(entry)}`);
    return Object.entries(entry as Record<string, unknown>).map(([text, logprob]) => {
      const id = this.strings.idOf(text);
      if (id === null) throw new TeacherResponseError(url, field, `the token string ${JSON.stringify(text)} is shown alike for several ids of the student's vocabulary; use a server with prompt_logprobs (ids)`);
      if (id === undefined) throw new TeacherResponseError(url, field, `no id of the student's vocabulary shows as ${JSON.stringify(text)}`);
      return [id, logprobOf(logprob, url, `${field}[${JSON.stringify(text)}]`)];
    });
  }
}

/** What can be computed exactly from a served distribution's top log-probs. */
function checkServable(request: SparseRequest, vocabSize: number): void {
  if (request.mode !== "top-k") {
    throw new InvalidArgumentError(
      "mode",
      `an HTTP teacher serves "top-k" only: "${request.mode}" draws from the teacher's whole distribution, and an endpoint returns only its top log-probs; use a local teacher to store samples`,
    );
  }
  if (request.temperature !== 1) {
    throw new InvalidArgumentError(
      "temperature",
      `an HTTP teacher serves temperature 1 only (the served distribution): temperature ${request.temperature} needs the normaliser over every id, which the top log-probs do not give; use a local teacher`,
    );
  }
  if (!Number.isInteger(request.k) || request.k < 1 || request.k > vocabSize) throw new InvalidArgumentError("k", `expected an integer in [1, ${vocabSize}], got ${request.k}`);
}

function scoringBody(model: string, prompts: readonly (readonly number[])[], scoring: PromptScoring, k: number): object {
  const base = { model, prompt: prompts, max_tokens: 0, echo: true, n: 1 };
  return scoring === "echo" ? { ...base, logprobs: k } : { ...base, prompt_logprobs: k };
}

/** The response's choices in prompt order (one per prompt: n is 1). */
function choicesOf(response: unknown, prompts: number, baseURL: string): Record<string, unknown>[] {
  const url = `${baseURL}/completions`;
  const choices = (response as { choices?: unknown })?.choices;
  if (!Array.isArray(choices) || choices.length !== prompts) {
    throw new TeacherResponseError(url, "choices", `expected ${prompts} choices (one per prompt), got ${Array.isArray(choices) ? choices.length : JSON.stringify(choices)}`);
  }
  const ordered = new Array<Record<string, unknown>>(prompts);
  choices.forEach((choice: unknown, i) => {
    const at = (choice as { index?: unknown })?.index ?? i;
    if (typeof at !== "number" || !Number.isInteger(at) || at < 0 || at >= prompts || ordered[at] !== undefined) {
      throw new TeacherResponseError(url, `choices[${i}].index`, `expected a distinct index below ${prompts}, got ${JSON.stringify(at)}`);
    }
    ordered[at] = choice as Record<string, unknown>;
  });
  return ordered;
}

/** The per-prompt-token entries (index 0 unscored), checked to cover the prompt. */
function promptEntries(choice: Record<string, unknown>, scoring: PromptScoring, length: number, url: string, field: string): unknown[] {
  const entries = scoring === "echo" ? (choice.logprobs as { top_logprobs?: unknown } | null | undefined)?.top_logprobs : choice.prompt_logprobs;
  const name = `${field}.${scoring === "echo" ? "logprobs.top_logprobs" : "prompt_logprobs"}`;
  if (!Array.isArray(entries)) throw new TeacherResponseError(url, name, `expected an array (one entry per prompt token), got ${JSON.stringify(entries)}`);
  // With max_tokens 0 the echo covers the prompt alone; a server that generates anyway adds entries after it.
  if (entries.length < length) throw new TeacherResponseError(url, name, `expected ${length} entries (one per prompt token), got ${entries.length}`);
  return entries.slice(0, length);
}

/** vLLM's `{ "<id>": { logprob, rank } }`. */
function fromIds(entry: unknown, vocabSize: number, url: string, field: string): [number, number][] {
  if (entry === null || typeof entry !== "object") throw new TeacherResponseError(url, field, `expected an object keyed by token id, got ${JSON.stringify(entry)}`);
  return Object.entries(entry as Record<string, unknown>).map(([key, value]) => {
    const id = Number(key);
    if (!/^\d+$/.test(key) || id >= vocabSize) throw new TeacherResponseError(url, field, `the key ${JSON.stringify(key)} is not a token id below ${vocabSize}`);
    return [id, logprobOf((value as { logprob?: unknown } | null)?.logprob, url, `${field}["${key}"].logprob`)];
  });
}

function logprobOf(value: unknown, url: string, field: string): number {
  // JSON has no -Infinity; a server may send null or a very negative number for probability 0.
  if (value === null) return Number.NEGATIVE_INFINITY;
  if (typeof value !== "number" || Number.isNaN(value) || value > 1e-6) throw new TeacherResponseError(url, field, `expected a log-probability <= 0, got ${JSON.stringify(value)}`);
  return Math.min(0, value);
}

/**
 * The k best of a position's entries into slot row `index`: by descending log-prob, ties to the
 * smaller id (the order LocalTeacher stores), so the token's own entry, listed with its rank when
 * it is not among the top, falls away. The residual is the mass outside the k, as LocalTeacher's.
 */
function writeTopK(entries: [number, number][], k: number, out: SparseScores, index: number, url: string, field: string): void {
  if (entries.length < k) throw new TeacherResponseError(url, field, `expected at least ${k} entries, got ${entries.length}${entries.length > 0 ? " (two ids shown alike collapse into one key)" : ""}`);
  entries.sort((a, b) => b[1] - a[1] || a[0] - b[0]);
  let covered = 0;
  for (let j = 0; j < k; j++) {
    const [id, logprob] = entries[j]!;
    out.ids[index * k + j] = id;
    out.logprobs[index * k + j] = logprob;
    covered += Math.exp(logprob);
  }
  out.residual[index] = Math.min(1, Math.max(0, 1 - covered));
}

/** `http://host:port` gets /v1; any other path is taken as the API root. */
function apiRoot(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new InvalidArgumentError("url", `${JSON.stringify(url)} is not a URL`);
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") throw new InvalidArgumentError("url", `expected an http(s) URL, got ${JSON.stringify(url)}`);
  const path = parsed.pathname.replace(/\/+$/, "");
  return `${parsed.origin}${path === "" ? "/v1" : path}`;
}

async function findModel(client: EndpointClient, wanted: string | undefined): Promise<ModelEntry> {
  const url = `${client.baseURL}/models`;
  const data = ((await client.get("/models")) as { data?: unknown })?.data;
  if (!Array.isArray(data)) throw new TeacherResponseError(url, "data", `expected a list of models, got ${JSON.stringify(data)}`);
  const models = data.filter((model): model is ModelEntry => typeof (model as ModelEntry)?.id === "string");
  const names = models.map((model) => model.id).join(", ") || "none";
  if (wanted === undefined) {
    if (models.length !== 1) throw new InvalidArgumentError("model", `${url} serves ${models.length} models (${names}); name one`);
    return models[0]!;
  }
  const found = models.find((model) => model.id === wanted);
  if (!found) throw new InvalidArgumentError("model", `${url} does not serve ${JSON.stringify(wanted)} (it serves ${names})`);
  return found;
}

/** Ids 0 .. size - 1 at PROBE_IDS evenly spaced points (all of them for a smaller vocabulary). */
export function probeIds(size: number): number[] {
  if (size <= PROBE_IDS) return Array.from({ length: size }, (_, i) => i);
  return [...new Set(Array.from({ length: PROBE_IDS }, (_, i) => Math.round((i * (size - 1)) / (PROBE_IDS - 1))))];
}

/**
 * Sends the probe ids as prompts and compares the token strings the server shows with the
 * student's; asks for prompt_logprobs too (in "auto" and "prompt_logprobs"), and settles which
 * scoring the server has. Then the first id past the student's vocabulary must be refused.
 */
async function probeVocabulary(client: EndpointClient, model: string, strings: TokenStrings, contextLength: number, batchSize: number, wanted: PromptScoring | "auto"): Promise<PromptScoring> {
  const url = `${client.baseURL}/completions`;
  const ids = probeIds(strings.size);
  const perPrompt = contextLength - 1;
  const prompts: number[][] = [];
  for (let from = 0; from < ids.length; from += perPrompt) prompts.push(ids.slice(from, from + perPrompt));
  const ask = async (withPromptLogprobs: boolean) => {
    const shown: unknown[][] = [];
    for (let from = 0; from < prompts.length; from += batchSize) {
      const batch = prompts.slice(from, from + batchSize);
      const body = { model, prompt: batch, max_tokens: 0, echo: true, n: 1, logprobs: 0, ...(withPromptLogprobs ? { prompt_logprobs: 1 } : {}) };
      const choices = choicesOf(await client.post("/completions", body), batch.length, client.baseURL);
      choices.forEach((choice, r) => {
        if (withPromptLogprobs && !Array.isArray(choice.prompt_logprobs)) throw new MissingPromptLogprobs();
        const tokens = (choice.logprobs as { tokens?: unknown } | null | undefined)?.tokens;
        if (!Array.isArray(tokens) || tokens.length < batch[r]!.length) {
          throw new TeacherResponseError(url, `choices[${r}].logprobs.tokens`, `expected the ${batch[r]!.length} echoed prompt tokens, got ${JSON.stringify(tokens)?.slice(0, 200)}`);
        }
        shown.push(tokens.slice(0, batch[r]!.length));
      });
    }
    return shown;
  };
  let scoring: PromptScoring = wanted === "echo" ? "echo" : "prompt_logprobs";
  let shown: unknown[][];
  try {
    shown = await ask(scoring === "prompt_logprobs");
  } catch (error) {
    const refused = error instanceof MissingPromptLogprobs || refusedRequest(error);
    if (wanted !== "auto" || !refused) {
      if (error instanceof MissingPromptLogprobs) throw new TeacherResponseError(url, "choices[0].prompt_logprobs", "the server does not return prompt_logprobs; use scoring \"echo\" or \"auto\"");
      throw error;
    }
    scoring = "echo";
    shown = await ask(false);
  }
  let compared = 0;
  prompts.forEach((prompt, p) => {
    prompt.forEach((id, t) => {
      const text = shown[p]![t];
      if (typeof text !== "string") throw new TeacherResponseError(url, `choices[${p}].logprobs.tokens[${t}]`, `expected a token string, got ${JSON.stringify(text)}`);
      // Some servers hide special tokens or show a partial character as U+FFFD: nothing to compare.
      if (text === "" || text.includes("\uFFFD")) return;
      const expected = strings.display(id);
      if (text !== expected && !strings.alternatives(id).includes(text) && text.trimStart() !== expected.trimStart()) {
        throw new VocabularyMismatchError("tokenizer", `${JSON.stringify(text)} at id ${id}`, `${JSON.stringify(expected)} at id ${id}`);
      }
      compared++;
    });
  });
  if (compared < ids.length / 2) {
    throw new VocabularyMismatchError("tokenizer", `comparable at ${compared} of ${ids.length} probed ids`, "a token string at each");
  }
  await probeSize(client, model, strings.size);
  return scoring;
}

/** The id just past the student's vocabulary must be refused (a 4xx): a server that takes it has a larger one. */
async function probeSize(client: EndpointClient, model: string, size: number): Promise<void> {
  try {
    await client.post("/completions", { model, prompt: [[size]], max_tokens: 0, echo: true, n: 1 });
  } catch (error) {
    if (refusedRequest(error)) return;
    throw error;
  }
  throw new VocabularyMismatchError("vocabSize", `more than ${size} (it accepts id ${size})`, size);
}

/** A 4xx that refuses the request's content; a refused key (401) is no answer about the content. */
function refusedRequest(error: unknown): boolean {
  if (!(error instanceof TeacherRequestError) || error instanceof TeacherAuthError || error.status === undefined) return false;
  return error.status >= 400 && error.status < 500 && error.status !== 429;
}

class MissingPromptLogprobs extends Error {}
