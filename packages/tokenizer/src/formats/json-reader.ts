// Small typed accessors for untrusted JSON: each read names the JSON path it failed at, so a
// malformed tokenizer.json is reported as "model.merges[12]: expected a string", never as a
// TypeError deep inside the encoder.
import { MalformedTokenizerFileError } from "../errors.js";

export type JsonObject = { readonly [key: string]: unknown };

export class JsonReader {
  constructor(
    readonly value: unknown,
    readonly path: string,
  ) {}

  fail(problem: string): never {
    throw new MalformedTokenizerFileError(this.path || "(root)", problem);
  }

  isNull(): boolean {
    return this.value === null || this.value === undefined;
  }

  object(): JsonObject {
    if (typeof this.value !== "object" || this.value === null || Array.isArray(this.value)) {
      this.fail(`expected an object, got ${describe(this.value)}`);
    }
    return this.value as JsonObject;
  }

  array(): JsonReader[] {
    if (!Array.isArray(this.value)) this.fail(`expected an array, got ${describe(this.value)}`);
    return (this.value as unknown[]).map((item, index) => new JsonReader(item, `${this.path}[${index}]`));
  }

  string(): string {
    if (typeof this.value !== "string") this.fail(`expected a string, got ${describe(this.value)}`);
    return this.value as string;
  }

  boolean(fallback?: boolean): boolean {
    if (this.isNull() && fallback !== undefined) return fallback;
    if (typeof this.value !== "boolean") this.fail(`expected a boolean, got ${describe(this.value)}`);
    return this.value as boolean;
  }

  /** A non-negative integer (ids, counts). */
  index(): number {
    if (typeof this.value !== "number" || !Number.isInteger(this.value) || this.value < 0) {
      this.fail(`expected a non-negative integer, got ${describe(this.value)}`);
    }
    return this.value as number;
  }

  get(key: string): JsonReader {
    const object = this.object();
    return new JsonReader(Object.hasOwn(object, key) ? object[key] : undefined, this.path ? `${this.path}.${key}` : key);
  }

  /** The field, which must be present (null counts as present). */
  require(key: string): JsonReader {
    const object = this.object();
    if (!Object.hasOwn(object, key)) {
      throw new MalformedTokenizerFileError(this.path || "(root)", `missing field '${key}'`);
    }
    return this.get(key);
  }

  entries(): [string, JsonReader][] {
    return Object.keys(this.object()).map((key) => [key, this.get(key)]);
  }
}

function describe(value: unknown): string {
  if (value === undefined) return "nothing";
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value === "string" ? `the string ${JSON.stringify(value.slice(0, 40))}` : `${typeof value} ${String(value).slice(0, 40)}`;
}
