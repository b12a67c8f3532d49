// A teacher run in this process: a Gemma 2 model (a Hugging Face folder on the core's onnxruntime
// backend, an exported ONNX folder on its own session, or any CausalLM) and its tokenizer. Rows
// are scored in one forward pass, right-padded to the longest: without a cache the positions start
// at 0 and attention is causal, so padding after a row's end cannot change its real positions.
import { createHash, type Hash } from "node:crypto";
import { createReadStream } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { type CausalLM, Gemma2Model } from "@gemma-ts/core";
import { INDEX_FILE, loadHfCheckpoint, ONNX_DATA_FILE, ONNX_MODEL_FILE, OnnxBackend, OnnxFolderModel, SINGLE_FILE } from "@gemma-ts/core/node";
import { tokenizerFingerprint } from "@gemma-ts/data";
import { type Tokenizer, tokenizerFromJson } from "@gemma-ts/tokenizer";
import { InvalidArgumentError } from "./errors.js";
import { emptyScores, Sparsifier } from "./sparsify.js";
import type { SparseRequest, SparseScores, Teacher, TeacherRow, Vocabulary } from "./teacher.js";

export interface LocalTeacherOptions {
  /**
   * Identifies the weights in the store's index. Default for a Gemma2Model: a sha256 of its config
   * and float32 weights; other models must name theirs (fromFolder names an ONNX folder's).
   */
  fingerprint?: string;
}

export interface LocalTeacherFolderOptions {
  /** Threads one onnxruntime kernel may use (default: onnxruntime's choice). */
  threads?: number;
  /** The tokenizer, when the folder has no tokenizer.json. */
  tokenizer?: Tokenizer;
}

export class LocalTeacher implements Teacher {
  readonly fingerprint: string;
  readonly vocabulary: Vocabulary;
  readonly maxContext: number;

  constructor(
    readonly model: CausalLM,
    tokenizer: Tokenizer,
    options: LocalTeacherOptions = {},
  ) {
    if (options.fingerprint === undefined && !(model instanceof Gemma2Model)) {
      throw new InvalidArgumentError("fingerprint", "a teacher that is not a Gemma2Model must name its weights' fingerprint");
    }
    this.fingerprint = options.fingerprint ?? modelFingerprint(model as Gemma2Model);
    // The model's own size, not the tokenizer's: the two must agree, and checkVocabulary says so.
    this.vocabulary = { size: model.config.vocabSize, fingerprint: tokenizerFingerprint(tokenizer) };
    this.maxContext = model.config.maxPositionEmbeddings;
  }

  /**
   * A Hugging Face folder (config.json, safetensors, tokenizer.json) on the core's graphs, or an
   * exported ONNX folder (config.json, onnx/model.onnx, as `gemma-ts convert --to-onnx` writes it)
   * on its own onnxruntime session. Safetensors win when a folder has both, as `gemma-ts serve`
   * chooses. An ONNX folder's fingerprint is onnxFolderFingerprint's.
   */
  static async fromFolder(dir: string, options: LocalTeacherFolderOptions = {}): Promise<LocalTeacher> {
    const tokenizer = options.tokenizer ?? (await folderTokenizer(dir));
    const threads = options.threads === undefined ? {} : { intraOpThreads: options.threads };
    if (await isOnnxFolder(dir)) {
      const fingerprint = await onnxFolderFingerprint(dir);
      return new LocalTeacher(await OnnxFolderModel.load(dir, threads), tokenizer, { fingerprint });
    }
    const { config, params } = await loadHfCheckpoint(dir);
    return new LocalTeacher(new Gemma2Model(config, params, new OnnxBackend(threads)), tokenizer);
  }

  async score(rows: readonly TeacherRow[], request: SparseRequest): Promise<SparseScores> {
    const V = this.model.config.vocabSize;
    const sparsifier = new Sparsifier(V, request);
    if (rows.length === 0) return emptyScores(0, request.k);
    let longest = 0;
    let positions = 0;
    for (const row of rows) {
      if (row.ids.length === 0 || row.ids.length > this.maxContext) {
        throw new InvalidArgumentError("rows", `a row holds ${row.ids.length} ids; the teacher reads 1 to ${this.maxContext}`);
      }
      longest = Math.max(longest, row.ids.length);
      positions += row.ids.length;
    }
    const pad = this.model.config.padTokenId;
    const batch = rows.map((row) => {
      const ids = Array.from(row.ids);
      while (ids.length < longest) ids.push(pad);
      return ids;
    });
    const logits = await this.model.forward(batch);
    const out = emptyScores(positions, request.k);
    let index = 0;
    rows.forEach((row, r) => {
      for (let t = 0; t < row.ids.length; t++) {
        const at = (r * longest + t) * V;
        sparsifier.reduce(logits.data.subarray(at, at + V), row.position + t, out, index++);
      }
    });
    return out;
  }

  async close(): Promise<void> {
    await this.model.dispose();
  }
}

/** onnx/model.onnx and no safetensors weights. */
async function isOnnxFolder(dir: string): Promise<boolean> {
  if ((await isFile(join(dir, SINGLE_FILE))) || (await isFile(join(dir, INDEX_FILE)))) return false;
  return isFile(join(dir, ONNX_MODEL_FILE));
}

async function isFile(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined))?.isFile() ?? false;
}

/**
 * sha256 over an exported ONNX folder's config.json, onnx/model.onnx and, when the weights are
 * stored beside the graph, onnx/model.onnx_data: each file's name and size, then its bytes,
 * streamed (the data file of a large model does not fit in memory twice). The same weights in a
 * Hugging Face folder have another fingerprint (modelFingerprint's), since they are run otherwise.
 */
export async function onnxFolderFingerprint(dir: string): Promise<string> {
  const hash = createHash("sha256");
  hash.update("onnx-folder\n");
  for (const name of ["config.json", ONNX_MODEL_FILE, ONNX_DATA_FILE]) {
    const path = join(dir, name);
    const info = await stat(path).catch((error: NodeJS.ErrnoException) => {
      if (error.code === "ENOENT" && name === ONNX_DATA_FILE) return undefined;
      throw new InvalidArgumentError("teacher", `${path} cannot be read (${error.message})`);
    });
    if (info === undefined) continue;
    hash.update(`${name} ${info.size}\n`);
    await hashFile(hash, path);
  }
  return `sha256:${hash.digest("hex")}`;
}

async function hashFile(hash: Hash, path: string): Promise<void> {
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
}

async function folderTokenizer(dir: string): Promise<Tokenizer> {
  const path = join(dir, "tokenizer.json");
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (error) {
    throw new InvalidArgumentError("teacher", `${path} cannot be read (${(error as Error).message}); the teacher's vocabulary must be known to compare it with the student's`);
  }
  return tokenizerFromJson(bytes);
}

/** sha256 over the config and every weight (name, shape, float32 bytes), in parameter order. */
export function modelFingerprint(model: Gemma2Model): string {
  const hash = createHash("sha256");
  hash.update(`${JSON.stringify(model.config)}\n`);
  for (const [name, tensor] of model.params) {
    hash.update(`${name} ${tensor.shape.join("x")} ${tensor.dtype}\n`);
    hash.update(new Uint8Array(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength));
  }
  return `sha256:${hash.digest("hex")}`;
}
