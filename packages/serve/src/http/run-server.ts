// Running the server as a program: load the named model folders, listen, announce the address,
// and shut down gracefully on SIGTERM / SIGINT (stop accepting, let in-flight requests finish
// within the grace period, exit 0). Used by apps/api's bin (gemma-ts-api) and by `gemma-ts serve`.
import { readFile, stat } from "node:fs/promises";
import { basename, resolve } from "node:path";
import { ConfigurationError } from "./errors.js";
import { loadServedModel, type EngineSettings, type LoadOptions } from "./model-loader.js";
import { isSafeModelName } from "./model-registry.js";
import { closeServedModel, type ServedModel } from "./served-model.js";
import { createServer, type GemmaServer, type ServerOptions } from "./server.js";

export interface RunServerOptions extends Pick<ServerOptions, "apiKey" | "maxBodyBytes" | "maxTokensLimit" | "maxConcurrent" | "shutdownGraceMs" | "toolPromptTemplate"> {
  /** A text file holding the tool prompt template (read at start; toolPromptTemplate wins). */
  toolPromptFile?: string;
  /** Model folders loaded at start, each served under its folder name. */
  models?: readonly string[];
  /** A directory whose model folders are served, each loaded on first request. */
  modelDir?: string;
  port: number;
  host: string;
  engine?: EngineSettings;
  logLevel?: string;
  /** Progress of each model folder loaded at start. */
  onLoadProgress?: (folder: string) => LoadOptions["onProgress"];
  /** Where the "listening" line goes (default stdout). */
  announce?: (line: string) => void;
}

/** Resolves once the server listens; `closed` settles after a signal has shut it down. */
export async function runServer(options: RunServerOptions): Promise<{ server: GemmaServer; url: string; closed: Promise<void> }> {
  if (!options.models?.length && options.modelDir === undefined) throw new ConfigurationError("give at least one model folder or a model directory");
  const loaded: ServedModel[] = [];
  for (const folder of options.models ?? []) {
    const id = basename(resolve(folder));
    if (!isSafeModelName(id)) throw new ConfigurationError(`'${id}' cannot be served as a model name (letters, digits, '.', '_', '-')`);
    const progress = options.onLoadProgress?.(folder);
    loaded.push(await loadServedModel(folder, { id, ...options.engine, ...(progress ? { onProgress: progress } : {}) }));
  }
  if (options.modelDir !== undefined && !(await stat(options.modelDir)).isDirectory()) throw new ConfigurationError(`${options.modelDir} is not a directory`);
  const toolPromptTemplate = options.toolPromptTemplate ?? (options.toolPromptFile !== undefined ? await readToolPrompt(options.toolPromptFile) : undefined);
  const server = createServer({
    models: loaded,
    ...(options.modelDir !== undefined ? { modelDir: options.modelDir } : {}),
    ...(options.engine ? { engine: options.engine } : {}),
    ...pick(options, ["apiKey", "maxBodyBytes", "maxTokensLimit", "maxConcurrent", "shutdownGraceMs"]),
    ...(toolPromptTemplate !== undefined ? { toolPromptTemplate } : {}),
    logger: { level: options.logLevel ?? "warn" },
  });
  const { url } = await server.listen(options.port, options.host);
  const names = loaded.map((model) => model.id).join(", ") || `the models in ${resolve(options.modelDir!)}`;
  (options.announce ?? ((line) => process.stdout.write(`${line}\n`)))(`gemma-ts: serving ${names} at ${url}/v1`);

  const closed = new Promise<void>((resolveClosed, reject) => {
    const stop = () => {
      process.off("SIGTERM", stop);
      process.off("SIGINT", stop);
      // The engines loaded here are this function's to close; the server closes those it loaded.
      server
        .close()
        .then(() => Promise.all(loaded.map(closeServedModel)))
        .then(() => resolveClosed(), reject);
    };
    process.on("SIGTERM", stop);
    process.on("SIGINT", stop);
  });
  return { server, url, closed };
}

function pick<T extends object, K extends keyof T>(object: T, keys: readonly K[]): Partial<Pick<T, K>> {
  const picked: Partial<Pick<T, K>> = {};
  for (const key of keys) if (object[key] !== undefined) picked[key] = object[key];
  return picked;
}

async function readToolPrompt(file: string): Promise<string> {
  try {
    return await readFile(file, "utf8");
  } catch (error) {
    throw new ConfigurationError(`cannot read the tool prompt template ${file}: ${(error as Error).message}`);
  }
}
