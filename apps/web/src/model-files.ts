// A model folder's files, from a URL (fetch) or from files the user picked: config.json,
// tokenizer.json and the safetensors weights, one file or the shards an index names.
import type { SafetensorsBytes } from "@gemma-ts/core";

export interface ModelFiles {
  readonly configJson: unknown;
  readonly tokenizerJson: string;
  readonly weights: readonly SafetensorsBytes[];
}

/** A file is missing or unreadable; the message names it. */
export class ModelFilesError extends Error {
  override readonly name = "ModelFilesError";
}

const SINGLE = "model.safetensors";
const INDEX = "model.safetensors.index.json";

/** The shards a model.safetensors.index.json names, each once, in order. */
function shardNames(index: unknown, source: string): string[] {
  const map = (index as { weight_map?: unknown } | null)?.weight_map;
  if (typeof map !== "object" || map === null) throw new ModelFilesError(`${source} has no weight_map`);
  return [...new Set(Object.values(map as Record<string, unknown>).map(String))];
}

export async function fetchModelFiles(folderUrl: string, onFile: (name: string) => void = () => {}): Promise<ModelFiles> {
  const base = new URL(folderUrl.endsWith("/") ? folderUrl : `${folderUrl}/`, document.baseURI);
  const get = async (name: string): Promise<Response> => {
    onFile(name);
    const response = await fetch(new URL(name, base));
    if (!response.ok) throw new ModelFilesError(`${new URL(name, base)}: HTTP ${response.status}`);
    return response;
  };
  const bytes = async (name: string): Promise<SafetensorsBytes> => ({ name, bytes: new Uint8Array(await (await get(name)).arrayBuffer()) });
  const configJson = await (await get("config.json")).json();
  const tokenizerJson = await (await get("tokenizer.json")).text();
  const single = await fetch(new URL(SINGLE, base), { method: "HEAD" });
  const names = single.ok ? [SINGLE] : shardNames(await (await get(INDEX)).json(), INDEX);
  const weights: SafetensorsBytes[] = [];
  for (const name of names) weights.push(await bytes(name));
  return { configJson, tokenizerJson, weights };
}

export async function readModelFiles(files: FileList | readonly File[]): Promise<ModelFiles> {
  const byName = new Map(Array.from(files, (file) => [file.name, file] as const));
  const file = (name: string): File => {
    const found = byName.get(name);
    if (!found) throw new ModelFilesError(`${name} is not among the picked files (${[...byName.keys()].join(", ") || "none"})`);
    return found;
  };
  const configJson = JSON.parse(await file("config.json").text());
  const tokenizerJson = await file("tokenizer.json").text();
  const names = byName.has(SINGLE) ? [SINGLE] : shardNames(JSON.parse(await file(INDEX).text()), INDEX);
  const weights = await Promise.all(names.map(async (name) => ({ name, bytes: new Uint8Array(await file(name).arrayBuffer()) })));
  return { configJson, tokenizerJson, weights };
}
