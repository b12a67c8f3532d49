// A JSON Schema compiled to the value grammar the constrained decoder walks. Supported: type
// (one or a list), object (properties, required, additionalProperties), array (items), string,
// number, integer, boolean, null, enum, const, anyOf whose branches start with different bytes,
// and local $ref into $defs/definitions (not recursive). Annotations (title, description ...) are
// ignored; any other keyword throws UnsupportedSchemaError, since the output could break it.
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
}

export interface StringNode extends NodeBase {
  readonly kind: "string";
}

export interface NumberNode extends NodeBase {
  readonly kind: "number";
  readonly integer: boolean;
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
const STRUCTURE = new Set(["type", "properties", "required", "additionalProperties", "items", "enum", "const", "anyOf", "$ref"]);
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
      array: { id: this.id(), kind: "array", items: anyNode, shortest: utf8("[]") } as ArrayNode,
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
      case "array": {
        const items = this.node(schema.items === undefined ? true : schema.items, `${path}/items`, depth + 1);
        return { id: this.id(), kind: "array", items, shortest: utf8("[]") };
      }
      case "string":
        return { id: this.id(), kind: "string", shortest: utf8('""') };
      case "number":
      case "integer":
        return { id: this.id(), kind: "number", integer: type === "integer", shortest: utf8("0") };
      case "boolean":
        return this.literalNode([utf8("true"), utf8("false")]);
      case "null":
        return this.literalNode([utf8("null")]);
    }
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
    const allowed = values.filter((value) => types.has(jsonType(value)) || (jsonType(value) === "integer" && types.has("number")));
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
