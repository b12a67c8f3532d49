// Small typed accessors for untrusted JSON: each read names the JSON path it failed at, so a
// malformed tokenizer.json is reported as "model.merges[12]: expected a string", never as a
// TypeError deep inside the encoder.
import { MalformedTokenizerFileError } from "../errors.js";
import { checkLimit, type TokenizerLimitName } from "../limits.js";

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

  /** The items; with `limit`, an array longer than that limit is refused before any is read. */
  array(limit?: TokenizerLimitName): JsonReader[] {
    if (!Array.isArray(this.value)) this.fail(`expected an array, got ${describe(this.value)}`);
    const items = this.value as unknown[];
    if (limit) checkLimit(limit, `the length of ${this.path || "(root)"}`, items.length);
    return items.map((item, index) => new JsonReader(item, `${this.path}[${index}]`));
  }

  /** The string; with `limit`, a longer one is refused. */
  string(limit?: TokenizerLimitName): string {
    if (typeof this.value !== "string") this.fail(`expected a string, got ${describe(this.value)}`);
    const value = this.value as string;
    if (limit) checkLimit(limit, `the length of ${this.path || "(root)"}`, value.length);
    return value;
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

  /** A token id: a non-negative integer within TOKENIZER_LIMITS.tokenId. */
  id(): number {
    const value = this.index();
    checkLimit("tokenId", this.path || "(root)", value);
    return value;
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
