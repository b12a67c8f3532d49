// Which models the server answers for: ones handed over already loaded, and the model folders of
// one directory, loaded on first use and kept. A model name is a folder name and nothing else:
// names with separators, '..' or a leading dot are refused before any path is built, so a request
// can never name a file outside the directory.
import { readdir, stat } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { modelNotFound, ConfigurationError, serverError } from "./errors.js";
import { closeServedModel, type ServedModel } from "./served-model.js";

export interface ModelInfo {
  id: string;
  created: number;
}

export interface ModelRegistry {
  /** Every model a request may name, loaded or not. */
  list(): Promise<ModelInfo[]>;
  /** The model, loading it if needed; an ApiError 404 when there is no such model. */
  get(name: string): Promise<ServedModel>;
  /** Models loaded so far (for /health). */
  loaded(): ServedModel[];
  /** Closes the engines this registry loaded; models handed in are their owner's to close. */
  close(): Promise<void>;
}

export type ModelLoader = (folder: string, id: string) => Promise<ServedModel>;

const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** True for a plain folder name: no separators, no '..', no leading dot, no absolute path. */
export function isSafeModelName(name: string): boolean {
  return SAFE_NAME.test(name) && !name.includes("..");
}

export interface DirectoryModelRegistryOptions {
  /** Models already loaded, served under their ids. */
  models?: readonly ServedModel[];
  /** A directory whose subfolders (config.json + safetensors or onnx/model.onnx + tokenizer.json) are models. */
  modelDir?: string;
  /** How a folder becomes a model (loadServedModel from model-loader.ts in practice). */
  load?: ModelLoader;
}

export class DirectoryModelRegistry implements ModelRegistry {
  private readonly preloaded = new Map<string, ServedModel>();
  private readonly loading = new Map<string, Promise<ServedModel>>();
  private readonly fromDisk = new Map<string, ServedModel>();
  private readonly modelDir: string | undefined;

  constructor(private readonly options: DirectoryModelRegistryOptions) {
    for (const model of options.models ?? []) this.preloaded.set(model.id, model);
    this.modelDir = options.modelDir === undefined ? undefined : resolve(options.modelDir);
    if (this.modelDir !== undefined && !options.load) throw new ConfigurationError("a modelDir needs a load function");
  }

  async list(): Promise<ModelInfo[]> {
    const models: ModelInfo[] = [...this.preloaded.values()].map(({ id, created }) => ({ id, created }));
    if (this.modelDir === undefined) return models;
    for (const entry of await readdir(this.modelDir, { withFileTypes: true })) {
      if (this.preloaded.has(entry.name) || !isSafeModelName(entry.name)) continue;
      const folder = join(this.modelDir, entry.name);
      const config = await stat(join(folder, "config.json")).catch(() => undefined);
      if (config?.isFile()) models.push({ id: entry.name, created: Math.floor(config.mtimeMs / 1000) });
    }
    return models.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  async get(name: string): Promise<ServedModel> {
    const preloaded = this.preloaded.get(name);
    if (preloaded) return preloaded;
    const folder = this.folderOf(name);
    if (folder === undefined) throw modelNotFound(name);
    let pending = this.loading.get(name);
    if (!pending) {
      pending = this.load(folder, name);
      this.loading.set(name, pending);
      // A failed load is forgotten, so fixing the folder and retrying works without a restart.
      pending.catch(() => this.loading.delete(name));
    }
    return pending;
  }

  loaded(): ServedModel[] {
    return [...this.preloaded.values(), ...this.fromDisk.values()];
  }

  async close(): Promise<void> {
    const loads = [...this.loading.values()];
    this.loading.clear();
    await Promise.allSettled(loads);
    const engines = [...this.fromDisk.values()];
    this.fromDisk.clear();
    await Promise.all(engines.map(closeServedModel));
  }

  private folderOf(name: string): string | undefined {
    if (this.modelDir === undefined || !isSafeModelName(name)) return undefined;
    const folder = join(this.modelDir, name);
    // Belt and braces: the name check already guarantees this.
    return dirname(folder) === this.modelDir ? folder : undefined;
  }

  private async load(folder: string, name: string): Promise<ServedModel> {
    const config = await stat(join(folder, "config.json")).catch(() => undefined);
    if (!config?.isFile()) throw modelNotFound(name);
    let model: ServedModel;
    try {
      model = await this.options.load!(folder, name);
    } catch (error) {
      // The cause (which may name server paths) goes to the log, not to the client.
      throw Object.assign(serverError(`The model \`${name}\` could not be loaded.`, "model_load_failed"), { cause: error });
    }
    this.fromDisk.set(name, model);
    return model;
  }
}
