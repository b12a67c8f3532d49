// A JSON Schema compiled to the value grammar the constrained decoder walks. Supported: type
// (one or a list), object (properties, required, additionalProperties), array (items, minItems,
// maxItems), string (minLength, maxLength, pattern, format: see json-regex.ts and json-formats.ts),
// number and integer (minimum, maximum, exclusiveMinimum, exclusiveMaximum in draft 6+ and draft 4
// form; multipleOf on integers), boolean, null, enum, const, anyOf whose branches start with
// different bytes, and local $ref into $defs/definitions (not recursive). Annotations (title,
// description ...) are ignored; any other keyword throws UnsupportedSchemaError, since the output
// could break it.
//
// Objects with declared properties only ever get those (valid whatever additionalProperties
// says); objects without get free string keys. Each node carries its shortest JSON text, which
// the decoder uses to close the output in time.
//
// A schema comes from the request, so its size is bounded before anything walks it
// (SCHEMA_LIMITS): the nesting of its JSON text, checked without recursion, then while compiling
// the nesting of schemas and the number compiled, $ref expansions included, so neither a deep
// schema nor references that fan out exponentially can exhaust the stack, the heap or the time.
import { UnsupportedSchemaError } from "./errors.js";
import { formatPattern } from "./json-formats.js";
import { BoundedNumberFrame, SCALE_DIGITS } from "./json-number-frame.js";
import { compileRegex, type RegexComponent } from "./json-regex.js";
import { StringAutomaton } from "./json-string-automaton.js";

/**
 * What a response_format schema may hold. Generous next to OpenAI's structured outputs (10 levels
 * of nesting, 5,000 properties, 1,000 enum values in all), which the schemas clients generate
 * (Pydantic, zod) are written to fit; llama.cpp and vLLM document no limits.
 */
export const SCHEMA_LIMITS = {
  /** Schemas within schemas (properties, items, additionalProperties, anyOf, a $ref's target). */
  depth: 64,
  /** Nesting of the schema's JSON text itself: objects and arrays, enum and const values included. */
  documentDepth: 256,
  /** Schemas compiled, a $ref counted again at each use. */
  nodes: 20_000,
  /** enum and const values, all of the schema's together. */
  literals: 10_000,
} as const;

export type SchemaNode = AnyNode | ObjectNode | ArrayNode | StringNode | NumberNode | LiteralNode | UnionNode;

interface NodeBase {
  /** Unique within one compiled schema: identifies the node in decoder states. */
  readonly id: number;
  /** The shortest JSON text of a valid value, as UTF-8. */
  readonly shortest: Uint8Array;
}

export interface AnyNode extends NodeBase {
  readonly kind: "any";
}

export interface PropertyNode {
  readonly name: string;
  /** JSON.stringify(name) as UTF-8: the key exactly as emitted, quotes included. */
  readonly key: Uint8Array;
  readonly value: SchemaNode;
  readonly required: boolean;
}

export interface ObjectNode extends NodeBase {
  readonly kind: "object";
  readonly properties: readonly PropertyNode[];
  /** Without declared properties: the schema of any key's value, or null for no keys at all. */
  readonly free: SchemaNode | null;
}

export interface ArrayNode extends NodeBase {
  readonly kind: "array";
  readonly items: SchemaNode;
  readonly minItems: number;
  readonly maxItems: number | null;
}

export interface StringNode extends NodeBase {
  readonly kind: "string";
  /** pattern, format, minLength, maxLength; absent for a plain string. */
  readonly automaton?: StringAutomaton;
}

/** A bounded number's cheapest completion from a prefix (json-number-frame.ts). */
export interface NumberVerdict {
  cost: number;
  closing: number[];
  /** Every completion is in bounds. */
  free: boolean;
}

/** Bounds in units of 10^-SCALE_DIGITS, inclusive; null for none. */
export interface NumberBounds {
  readonly lo: bigint | null;
  readonly hi: bigint | null;
  /** Integers only, in units. */
  readonly multipleOf: bigint | null;
  /** Verdicts per prefix, shared by the requests that use the schema. */
  readonly memo: Map<string, NumberVerdict>;
}

export interface NumberNode extends NodeBase {
  readonly kind: "number";
  readonly integer: boolean;
  readonly bounds?: NumberBounds;
}

/** A finite set of JSON texts: enum, const, booleans, null. */
export interface LiteralNode extends NodeBase {
  readonly kind: "literal";
  readonly values: readonly Uint8Array[];
}

/** Alternatives told apart by their first byte. */
export interface UnionNode extends NodeBase {
  readonly kind: "union";
  readonly options: readonly SchemaNode[];
}

export interface CompiledSchema {
  readonly root: SchemaNode;
  /** The nodes "any" dispatches to: free object, array of any, string, number, true/false/null. */
  readonly anyParts: { object: ObjectNode; array: ArrayNode; string: StringNode; number: NumberNode; literals: LiteralNode };
}

const ANNOTATIONS = new Set(["title", "description", "$schema", "$id", "$comment", "default", "examples", "deprecated", "readOnly", "writeOnly", "$defs", "definitions", "strict"]);
const STRUCTURE = new Set([
  "type",
  "properties",
  "required",
  "additionalProperties",
  "items",
  "enum",
  "const",
  "anyOf",
  "$ref",
  ...["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"],
  ...["minItems", "maxItems", "minLength", "maxLength", "pattern", "format"],
]);
const TYPES = ["object", "array", "string", "number", "integer", "boolean", "null"] as const;
type TypeName = (typeof TYPES)[number];

const encoder = new TextEncoder();
const utf8 = (text: string): Uint8Array => encoder.encode(text);

/** Compiles `schema`; `undefined` means json_object: a top-level object of any content. */
export function compileSchema(schema: object | undefined): CompiledSchema {
  if (schema !== undefined) checkSchemaDocument(schema);
  return new SchemaCompiler(schema).compile();
}

/**
 * Throws UnsupportedSchemaError, naming the place, when the JSON text of `schema` nests deeper
 * than SCHEMA_LIMITS.documentDepth. Iterative, so any depth is measured safely; after it, code
 * that recurses over the value (JSON.stringify included) is safe.
 */
export function checkSchemaDocument(schema: unknown): void {
  const limit = SCHEMA_LIMITS.documentDepth;
  const stack: { value: unknown; depth: number; path: string }[] = [{ value: schema, depth: 0, path: "" }];
  for (let top = stack.pop(); top; top = stack.pop()) {
    const { value, depth, path } = top;
    if (typeof value !== "object" || value === null) continue;
    if (depth >= limit) throw new UnsupportedSchemaError(path, `the schema nests deeper than the limit of ${limit} levels of objects and arrays`);
    const entries = Array.isArray(value) ? value.map((item, i) => [String(i), item] as const) : Object.entries(value);
    for (const [key, item] of entries) if (typeof item === "object" && item !== null) stack.push({ value: item, depth: depth + 1, path: `${path}/${escapePointer(key)}` });
  }
}

/** First bytes a value of `node` can start with. */
export function firstBytes(node: SchemaNode): Set<number> {
  switch (node.kind) {
    case "any":
      return new Set(utf8('{["-0123456789tfn'));
    case "object":
      return new Set([0x7b]);
    case "array":
      return new Set([0x5b]);
    case "string":
      return new Set([0x22]);
    case "number":
      return new Set(utf8("-0123456789"));
    case "literal":
      return new Set(node.values.map((value) => value[0]!));
    case "union":
      return new Set(node.options.flatMap((option) => [...firstBytes(option)]));
  }
}

class SchemaCompiler {
  private nextId = 0;
  private nodes = 0;
  private literals = 0;
  private readonly resolving = new Set<string>();

  constructor(private readonly rootSchema: object | undefined) {}

  compile(): CompiledSchema {
    const anyNode: AnyNode = { id: this.id(), kind: "any", shortest: utf8("0") };
    const anyParts = {
      object: this.objectNode([], anyNode),
      array: { id: this.id(), kind: "array", items: anyNode, minItems: 0, maxItems: null, shortest: utf8("[]") } as ArrayNode,
      string: { id: this.id(), kind: "string", shortest: utf8('""') } as StringNode,
      number: { id: this.id(), kind: "number", integer: false, shortest: utf8("0") } as NumberNode,
      literals: this.literalNode(["true", "false", "null"].map(utf8)),
    };
    const root = this.rootSchema === undefined ? anyParts.object : this.node(this.rootSchema, "", 0);
    return { root, anyParts };
  }

  private id(): number {
    return this.nextId++;
  }

  /** The node of `schema`, found at `path`, `depth` schemas below the root. */
  private node(schema: unknown, path: string, depth: number): SchemaNode {
    if (depth > SCHEMA_LIMITS.depth) throw new UnsupportedSchemaError(path, `schemas nest deeper than the limit of ${SCHEMA_LIMITS.depth} levels`);
    if (++this.nodes > SCHEMA_LIMITS.nodes) throw new UnsupportedSchemaError(path, `the schema has more than the limit of ${SCHEMA_LIMITS.nodes} subschemas (each use of a $ref counted)`);
    if (schema === true || (isRecord(schema) && Object.keys(schema).every((key) => ANNOTATIONS.has(key)))) {
      return { id: this.id(), kind: "any", shortest: utf8("0") };
    }
    if (!isRecord(schema)) throw new UnsupportedSchemaError(path, `expected a schema object, got ${preview(schema)}`);
    for (const key of Object.keys(schema)) {
      if (!ANNOTATIONS.has(key) && !STRUCTURE.has(key)) throw new UnsupportedSchemaError(path, `keyword '${key}' is not supported`);
    }
    if (schema.$ref !== undefined) return this.reference(schema, path, depth);
    if (schema.anyOf !== undefined) return this.anyOf(schema, path, depth);
    const types = this.types(schema, path);
    if (schema.format !== undefined && !types.has("string")) throw new UnsupportedSchemaError(`${path}/format`, "format is supported on strings only");
    if (schema.const !== undefined || schema.enum !== undefined) return this.enumeration(schema, types, path);
    const nodes = [...types].filter((type) => !(type === "integer" && types.has("number"))).map((type) => this.typed(type, schema, path, depth));
    return nodes.length === 1 ? nodes[0]! : this.union(nodes, path);
  }

  /** The types a schema allows: its `type`, or what its other keywords imply. */
  private types(schema: Record<string, unknown>, path: string): Set<TypeName> {
    const { type } = schema;
    if (type === undefined) {
      if (schema.properties !== undefined || schema.required !== undefined || schema.additionalProperties !== undefined) return new Set(["object"]);
      if (schema.items !== undefined) return new Set(["array"]);
      return new Set(TYPES);
    }
    const list = Array.isArray(type) ? type : [type];
    if (list.length === 0 || !list.every((t): t is TypeName => (TYPES as readonly unknown[]).includes(t))) {
      throw new UnsupportedSchemaError(`${path}/type`, `expected one of ${TYPES.join(", ")} or a list of them`);
    }
    return new Set(list);
  }

  private typed(type: TypeName, schema: Record<string, unknown>, path: string, depth: number): SchemaNode {
    switch (type) {
      case "object":
        return this.object(schema, path, depth);
      case "array":
        return this.array(schema, path, depth);
      case "string":
        return this.string(schema, path);
      case "number":
      case "integer":
        return this.number(schema, type === "integer", path);
      case "boolean":
        return this.literalNode([utf8("true"), utf8("false")]);
      case "null":
        return this.literalNode([utf8("null")]);
    }
  }

  private array(schema: Record<string, unknown>, path: string, depth: number): ArrayNode {
    const items = this.node(schema.items === undefined ? true : schema.items, `${path}/items`, depth + 1);
    const minItems = count(schema.minItems, `${path}/minItems`) ?? 0;
    const maxItems = count(schema.maxItems, `${path}/maxItems`);
    if (maxItems !== null && maxItems < minItems) throw new UnsupportedSchemaError(path, "maxItems is below minItems: no array satisfies both");
    if (minItems > 0 && items.kind === "any" && schema.items === false) throw new UnsupportedSchemaError(path, "no array satisfies minItems");
    const parts = Array.from({ length: minItems }, () => [...items.shortest]);
    const shortest = Uint8Array.from([0x5b, ...parts.flatMap((part, i) => (i === 0 ? part : [0x2c, ...part])), 0x5d]);
    return { id: this.id(), kind: "array", items, minItems, maxItems, shortest };
  }

  private string(schema: Record<string, unknown>, path: string): StringNode {
    const minLength = count(schema.minLength, `${path}/minLength`) ?? 0;
    let maxLength = count(schema.maxLength, `${path}/maxLength`);
    const components: RegexComponent[] = [];
    if (schema.pattern !== undefined) {
      if (typeof schema.pattern !== "string") throw new UnsupportedSchemaError(`${path}/pattern`, "expected a string");
      components.push(...compileRegex(schema.pattern, `${path}/pattern`));
    }
    if (schema.format !== undefined) {
      const format = formatPattern(schema.format, path);
      components.push(...compileRegex(format.pattern, `${path}/format`));
      if (format.maxLength !== undefined) maxLength = Math.min(maxLength ?? format.maxLength, format.maxLength);
    }
    if (components.length === 0 && minLength === 0 && maxLength === null) return { id: this.id(), kind: "string", shortest: utf8('""') };
    if (components.length === 0) components.push(...compileRegex("", path));
    const automaton = new StringAutomaton(components, { minLength, maxLength }, path);
    const text = String.fromCodePoint(...automaton.completion(0, 0));
    return { id: this.id(), kind: "string", automaton, shortest: utf8(JSON.stringify(text)) };
  }

  private number(schema: Record<string, unknown>, integer: boolean, path: string): NumberNode {
    const bounds = numberBounds(schema, integer, path);
    if (!bounds) return { id: this.id(), kind: "number", integer, shortest: utf8("0") };
    const node: NumberNode = { id: this.id(), kind: "number", integer, bounds, shortest: utf8("0") };
    const shortest = shortestNumber(node);
    if (!shortest) throw new UnsupportedSchemaError(path, `no ${integer ? "integer" : "number"} of at most 16 digits satisfies the bounds`);
    return { ...node, shortest };
  }

  private object(schema: Record<string, unknown>, path: string, depth: number): SchemaNode {
    const { properties = {}, required = [], additionalProperties } = schema;
    if (!isRecord(properties)) throw new UnsupportedSchemaError(`${path}/properties`, "expected an object");
    if (!Array.isArray(required) || !required.every((name) => typeof name === "string")) {
      throw new UnsupportedSchemaError(`${path}/required`, "expected a list of property names");
    }
    // Sets, not list searches: both lists come from the request and may be long.
    const names = Object.keys(properties);
    const declaredNames = new Set(names);
    const requiredNames = new Set<string>(required);
    for (const name of requiredNames) {
      if (!declaredNames.has(name)) throw new UnsupportedSchemaError(`${path}/required`, `'${clip(name)}' is required but not among the properties, so it cannot be generated`);
    }
    const declared: PropertyNode[] = names.map((name) => ({
      name,
      key: utf8(JSON.stringify(name)),
      value: this.node(properties[name], `${path}/properties/${escapePointer(name)}`, depth + 1),
      required: requiredNames.has(name),
    }));
    let free: SchemaNode | null = null;
    if (declared.length === 0 && additionalProperties !== false) {
      free = additionalProperties === undefined || additionalProperties === true ? this.node(true, path, depth + 1) : this.node(additionalProperties, `${path}/additionalProperties`, depth + 1);
    } else if (additionalProperties !== undefined && typeof additionalProperties !== "boolean" && !isRecord(additionalProperties)) {
      throw new UnsupportedSchemaError(`${path}/additionalProperties`, "expected a boolean or a schema");
    }
    return this.objectNode(declared, free);
  }

  private objectNode(properties: PropertyNode[], free: SchemaNode | null): ObjectNode {
    const parts = properties.filter((p) => p.required).map((p) => [...p.key, 0x3a, ...p.value.shortest]);
    const inner = parts.flatMap((part, i) => (i === 0 ? part : [0x2c, ...part]));
    return { id: this.id(), kind: "object", properties, free, shortest: Uint8Array.from([0x7b, ...inner, 0x7d]) };
  }

  private enumeration(schema: Record<string, unknown>, types: Set<TypeName>, path: string): SchemaNode {
    const values = schema.const !== undefined ? [schema.const] : schema.enum;
    if (!Array.isArray(values) || values.length === 0) throw new UnsupportedSchemaError(`${path}/enum`, "expected a non-empty list");
    const allowed = values.filter((value) => (types.has(jsonType(value)) || (jsonType(value) === "integer" && types.has("number"))) && satisfiesKeywords(value, schema));
    if (allowed.length === 0) throw new UnsupportedSchemaError(path, "no enum value has an allowed type");
    this.literals += allowed.length;
    if (this.literals > SCHEMA_LIMITS.literals) throw new UnsupportedSchemaError(path, `the schema has more than the limit of ${SCHEMA_LIMITS.literals} enum and const values`);
    const texts = [...new Set(allowed.map((value) => JSON.stringify(value)))];
    return this.literalNode(texts.map(utf8));
  }

  private literalNode(values: Uint8Array[]): LiteralNode {
    const shortest = values.reduce((best, value) => (value.length < best.length ? value : best));
    return { id: this.id(), kind: "literal", values, shortest };
  }

  private anyOf(schema: Record<string, unknown>, path: string, depth: number): SchemaNode {
    const { anyOf } = schema;
    if (Object.keys(schema).some((key) => STRUCTURE.has(key) && key !== "anyOf")) {
      throw new UnsupportedSchemaError(path, "anyOf next to other keywords is not supported");
    }
    if (!Array.isArray(anyOf) || anyOf.length === 0) throw new UnsupportedSchemaError(`${path}/anyOf`, "expected a non-empty list");
    const options = anyOf.map((option, i) => this.node(option, `${path}/anyOf/${i}`, depth + 1));
    return options.length === 1 ? options[0]! : this.union(options, `${path}/anyOf`);
  }

  private union(options: SchemaNode[], path: string): SchemaNode {
    // Literal alternatives (enums, booleans, null) merge into one; the rest must differ in their first byte.
    const flat = options.flatMap((option) => (option.kind === "union" ? option.options : [option]));
    const literals = flat.filter((option): option is LiteralNode => option.kind === "literal");
    const others = flat.filter((option) => option.kind !== "literal");
    const merged = literals.length > 0 ? [...others, this.literalNode(literals.flatMap((literal) => [...literal.values]))] : others;
    if (merged.some((option) => option.kind === "any")) return { id: this.id(), kind: "any", shortest: utf8("0") };
    const seen = new Set<number>();
    for (const option of merged) {
      for (const byte of firstBytes(option)) {
        if (seen.has(byte)) throw new UnsupportedSchemaError(path, `alternatives that can start with the same character ('${String.fromCharCode(byte)}') are not supported`);
        seen.add(byte);
      }
    }
    if (merged.length === 1) return merged[0]!;
    const shortest = merged.map((option) => option.shortest).reduce((best, text) => (text.length < best.length ? text : best));
    return { id: this.id(), kind: "union", options: merged, shortest };
  }

  private reference(schema: Record<string, unknown>, path: string, depth: number): SchemaNode {
    const ref = schema.$ref;
    if (Object.keys(schema).some((key) => STRUCTURE.has(key) && key !== "$ref")) throw new UnsupportedSchemaError(path, "$ref next to other keywords is not supported");
    if (typeof ref !== "string" || !/^#\/(\$defs|definitions)\/[^/]+$/.test(ref)) {
      throw new UnsupportedSchemaError(`${path}/$ref`, `only local references into $defs or definitions are supported, got ${preview(ref)}`);
    }
    if (this.resolving.has(ref)) throw new UnsupportedSchemaError(`${path}/$ref`, `recursive reference ${ref} is not supported`);
    const [, section, name] = ref.split("/") as [string, string, string];
    const table = isRecord(this.rootSchema) ? this.rootSchema[section] : undefined;
    const key = unescapePointer(name);
    if (key === undefined) throw new UnsupportedSchemaError(`${path}/$ref`, `${preview(ref)} is not a valid JSON Pointer (malformed percent-escape)`);
    const target = isRecord(table) && Object.hasOwn(table, key) ? table[key] : undefined;
    if (target === undefined) throw new UnsupportedSchemaError(`${path}/$ref`, `${ref} does not exist`);
    this.resolving.add(ref);
    try {
      return this.node(target, ref.slice(1), depth + 1);
    } finally {
      this.resolving.delete(ref);
    }
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function jsonType(value: unknown): TypeName {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  if (typeof value === "number") return Number.isInteger(value) ? "integer" : "number";
  if (typeof value === "boolean") return "boolean";
  if (typeof value === "string") return "string";
  return "object";
}

function escapePointer(name: string): string {
  return name.replaceAll("~", "~0").replaceAll("/", "~1");
}

/** The name a JSON Pointer segment spells; undefined for a malformed percent-escape. */
function unescapePointer(name: string): string | undefined {
  let decoded: string;
  try {
    decoded = decodeURIComponent(name);
  } catch {
    return undefined;
  }
  return decoded.replaceAll("~1", "/").replaceAll("~0", "~");
}

/** A value as it may appear in an error message: JSON, cut short (a value may be the whole body). */
function preview(value: unknown): string {
  return clip(JSON.stringify(value) ?? String(value));
}

function clip(text: string): string {
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** A non-negative integer keyword (minItems ...), or null when absent. */
function count(value: unknown, path: string): number | null {
  if (value === undefined) return null;
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0) throw new UnsupportedSchemaError(path, "expected a non-negative integer");
  if (value > 100_000) throw new UnsupportedSchemaError(path, "values above 100000 are not supported");
  return value;
}

const UNIT = 10n ** BigInt(SCALE_DIGITS);

/** A JSON number as an exact count of 10^-16 units, rounded down (up with `ceil`). */
function toUnits(value: number, ceil: boolean): bigint {
  const [mantissa, exponentText] = value.toExponential().split("e") as [string, string];
  const negative = mantissa.startsWith("-");
  const [whole, fraction = ""] = mantissa.replace("-", "").split(".") as [string, string?];
  const shift = Number(exponentText) - fraction.length + SCALE_DIGITS;
  const digits = BigInt(whole + fraction);
  let magnitude: bigint;
  let exact = true;
  if (shift >= 0) magnitude = digits * 10n ** BigInt(shift);
  else {
    const divisor = 10n ** BigInt(-shift);
    magnitude = digits / divisor;
    exact = digits % divisor === 0n;
  }
  const towardZero = negative ? -magnitude : magnitude;
  if (exact) return towardZero;
  if (ceil) return negative ? towardZero : towardZero + 1n;
  return negative ? towardZero - 1n : towardZero;
}

function floorDiv(a: bigint, b: bigint): bigint {
  return a / b - (a % b !== 0n && a < 0n ? 1n : 0n);
}

function ceilDiv(a: bigint, b: bigint): bigint {
  return a / b + (a % b !== 0n && a > 0n ? 1n : 0n);
}

function numberBounds(schema: Record<string, unknown>, integer: boolean, path: string): NumberBounds | null {
  const keys = ["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"] as const;
  if (keys.every((key) => schema[key] === undefined)) return null;
  const numeric = (key: (typeof keys)[number]): number | undefined => {
    const value = schema[key];
    if (value === undefined || typeof value === "boolean") return undefined;
    if (typeof value !== "number" || !Number.isFinite(value)) throw new UnsupportedSchemaError(`${path}/${key}`, "expected a number");
    return value;
  };
  // Draft 4 writes exclusiveMinimum: true next to minimum.
  for (const key of ["exclusiveMinimum", "exclusiveMaximum"] as const) {
    const value = schema[key];
    if (typeof value === "boolean" && value && schema[key === "exclusiveMinimum" ? "minimum" : "maximum"] === undefined) {
      throw new UnsupportedSchemaError(`${path}/${key}`, `${key}: true needs ${key === "exclusiveMinimum" ? "minimum" : "maximum"}`);
    }
  }
  let lo: bigint | null = null;
  let hi: bigint | null = null;
  const raise = (candidate: bigint) => (lo = lo === null || candidate > lo ? candidate : lo);
  const lower = (candidate: bigint) => (hi = hi === null || candidate < hi ? candidate : hi);
  const minimum = numeric("minimum");
  const maximum = numeric("maximum");
  const exclusiveMinimum = numeric("exclusiveMinimum");
  const exclusiveMaximum = numeric("exclusiveMaximum");
  if (minimum !== undefined) {
    if (schema.exclusiveMinimum === true) raise(toUnits(minimum, false) + 1n);
    else raise(toUnits(minimum, true));
  }
  if (maximum !== undefined) {
    if (schema.exclusiveMaximum === true) lower(toUnits(maximum, true) - 1n);
    else lower(toUnits(maximum, false));
  }
  if (exclusiveMinimum !== undefined) raise(toUnits(exclusiveMinimum, false) + 1n);
  if (exclusiveMaximum !== undefined) lower(toUnits(exclusiveMaximum, true) - 1n);
  let multipleOf: bigint | null = null;
  const step = numeric("multipleOf");
  if (step !== undefined) {
    if (!integer || !Number.isInteger(step) || step <= 0) throw new UnsupportedSchemaError(`${path}/multipleOf`, "multipleOf is supported on integers, as a positive integer");
    multipleOf = BigInt(step) * UNIT;
  }
  if (integer) {
    // Integers: bounds on whole units, so the grid search never meets a fractional bound.
    if (lo !== null) lo = ceilDiv(lo, UNIT) * UNIT;
    if (hi !== null) hi = floorDiv(hi, UNIT) * UNIT;
  }
  return { lo, hi, multipleOf, memo: new Map() };
}

function shortestNumber(node: NumberNode): Uint8Array | null {
  let best: number[] | null = null;
  for (const byte of utf8("-0123456789")) {
    const frame = BoundedNumberFrame.start(node, byte);
    if (!frame) continue;
    const text = [byte, ...frame.closing()];
    if (!best || text.length < best.length) best = text;
  }
  return best ? Uint8Array.from(best) : null;
}

const codePoints = (text: string): number => Array.from(text).length;

/** An enum or const value also meets the schema's other keywords (Ajv checks them all). */
function satisfiesKeywords(value: unknown, schema: Record<string, unknown>): boolean {
  const num = (key: string): number | undefined => (typeof schema[key] === "number" ? (schema[key] as number) : undefined);
  if (typeof value === "number") {
    const { minimum, maximum, exclusiveMinimum, exclusiveMaximum, multipleOf } = { minimum: num("minimum"), maximum: num("maximum"), exclusiveMinimum: num("exclusiveMinimum"), exclusiveMaximum: num("exclusiveMaximum"), multipleOf: num("multipleOf") };
    if (minimum !== undefined && (schema.exclusiveMinimum === true ? value <= minimum : value < minimum)) return false;
    if (maximum !== undefined && (schema.exclusiveMaximum === true ? value >= maximum : value > maximum)) return false;
    if (exclusiveMinimum !== undefined && value <= exclusiveMinimum) return false;
    if (exclusiveMaximum !== undefined && value >= exclusiveMaximum) return false;
    if (multipleOf !== undefined && !Number.isInteger(value / multipleOf)) return false;
  }
  if (typeof value === "string") {
    const length = codePoints(value);
    if (typeof schema.minLength === "number" && length < schema.minLength) return false;
    if (typeof schema.maxLength === "number" && length > schema.maxLength) return false;
    if (typeof schema.pattern === "string" && !new RegExp(schema.pattern, "u").test(value)) return false;
    if (schema.format !== undefined && !new RegExp(formatPattern(schema.format, "").pattern, "u").test(value)) return false;
  }
  if (Array.isArray(value)) {
    if (typeof schema.minItems === "number" && value.length < schema.minItems) return false;
    if (typeof schema.maxItems === "number" && value.length > schema.maxItems) return false;
  }
  return true;
}
