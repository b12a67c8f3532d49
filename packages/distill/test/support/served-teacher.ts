// A teacher both ways for the HTTP teacher's tests: a model folder (the fixtures' random tiny
// Gemma 2 whose soft-cap engages, saved as a Hugging Face checkpoint with its tokenizer.json), run
// in process by LocalTeacher and served by `createServer` from @gemma-ts/serve/http on 127.0.0.1;
// and small HTTP servers in front of it that fail on purpose.
import { writeFile } from "node:fs/promises";
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { type Gemma2Config, initParams } from "@gemma-ts/core";
import { saveHfCheckpoint } from "@gemma-ts/core/node";
import { closeServedModel, createServer, type GemmaServer, loadServedModel, type ServedModel } from "@gemma-ts/serve/http";
import { GEMMA_SPECIAL_TOKENS, type Tokenizer, tokenizerFromJson, trainBpe } from "@gemma-ts/tokenizer";
import { generatedTexts, tempDir, tinyConfig } from "./fixtures.js";

export interface ModelFolder {
  dir: string;
  tokenizer: Tokenizer;
  config: Gemma2Config;
}

export interface ModelFolderOptions {
  vocabSize?: number;
  tokenizerSeed?: number;
  weightSeed?: number;
  /** Special tokens added after the trained vocabulary (a larger vocabulary, the same strings below). */
  extraTokens?: number;
  /** Changes to tinyConfig (a lower attention soft-cap, say). */
  config?: Partial<Gemma2Config>;
}

/** A model folder whose tokenizer is the fixtures' smallTokenizer(vocabSize, tokenizerSeed) (same training). */
export async function writeModelFolder(options: ModelFolderOptions = {}): Promise<ModelFolder> {
  const dir = await tempDir();
  const trained = await trainBpe(generatedTexts(300, options.tokenizerSeed ?? 1), { vocabSize: options.vocabSize ?? 512, specialTokens: GEMMA_SPECIAL_TOKENS });
  let json = trained.toJsonString();
  if (options.extraTokens) {
    const parsed = JSON.parse(json);
    const first = tokenizerFromJson(json).vocabSize;
    for (let i = 0; i < options.extraTokens; i++) {
      parsed.added_tokens.push({ id: first + i, content: `<extra_${i}>`, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
    }
    json = JSON.stringify(parsed);
  }
  const tokenizer = tokenizerFromJson(json);
  const config = { ...tinyConfig(tokenizer.vocabSize), ...options.config };
  await saveHfCheckpoint(dir, config, initParams(config, options.weightSeed ?? 5));
  await writeFile(join(dir, "tokenizer.json"), json);
  return { dir, tokenizer, config };
}

export interface RunningServer {
  url: string;
  server: GemmaServer;
  stop(): Promise<void>;
}

/** `createServer` over the folders, each served under its name in `folders`. */
export async function serveFolders(folders: Record<string, string>, options: { apiKey?: string } = {}): Promise<RunningServer> {
  const models: ServedModel[] = [];
  for (const [id, dir] of Object.entries(folders)) models.push(await loadServedModel(dir, { id, threads: 1, maxBatchSize: 8 }));
  const server = createServer({ models, ...options });
  const { url } = await server.listen(0, "127.0.0.1");
  return {
    url,
    server,
    async stop() {
      await server.close();
      await Promise.all(models.map(closeServedModel));
    },
  };
}

export interface FaultyServer {
  url: string;
  /** Requests seen, by method and path, in order, with the status answered. */
  seen: { method: string; path: string; status: number }[];
  close(): Promise<void>;
}

/**
 * An HTTP server that answers request n with `fault(n)` when that gives a status (an OpenAI error
 * body, Retry-After 0 on 429), and otherwise proxies the request to `target` as it is.
 */
export async function faultyServer(target: string | undefined, fault: (n: number, request: IncomingMessage) => number | undefined): Promise<FaultyServer> {
  const seen: FaultyServer["seen"] = [];
  let count = 0;
  const server: Server = createHttpServer((request, response) => {
    void handle(request, response);
  });
  const handle = async (request: IncomingMessage, response: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const status = fault(count++, request);
    const record = { method: request.method ?? "", path: request.url ?? "", status: status ?? 0 };
    seen.push(record);
    if (status !== undefined || target === undefined) {
      const headers: Record<string, string> = { "content-type": "application/json" };
      if (status === 429) headers["retry-after"] = "0";
      response.writeHead(status ?? 503, headers);
      response.end(JSON.stringify({ error: { message: `injected failure ${status ?? 503}`, type: "server_error", param: null, code: null } }));
      record.status = status ?? 503;
      return;
    }
    const forwarded = await fetch(`${target}${request.url}`, {
      method: request.method ?? "GET",
      headers: { "content-type": request.headers["content-type"] ?? "application/json", ...(request.headers.authorization ? { authorization: request.headers.authorization } : {}) },
      ...(body.length > 0 ? { body } : {}),
    });
    record.status = forwarded.status;
    response.writeHead(forwarded.status, { "content-type": forwarded.headers.get("content-type") ?? "application/json" });
    response.end(Buffer.from(await forwarded.arrayBuffer()));
  };
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
