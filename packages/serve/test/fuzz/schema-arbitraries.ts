// JSON Schemas as a client, or an attacker, would send them in response_format, as JSON text (a
// deep value cannot cross to the fuzz child as an object: structured cloning recurses). Plain
// trees mix every keyword the compiler knows with ones it refuses, odd property names and values
// that are no schema at all; the hostile shapes nest thousands deep (properties, items, anyOf,
// additionalProperties, enum values, $defs), chain or fan out $refs, and inflate enums, property
// lists, required lists and key lengths.
import fc from "fast-check";

const propertyName = fc.oneof(
  fc.constantFrom("a", "b", "name", "__proto__", "constructor", "toString", "", "~0", "/", "a~1b", "%", "%E0", "clé ✓", "\u0000", '"', "\\"),
  fc.string({ maxLength: 8 }),
);
const defName = fc.constantFrom("a", "b", "c", "a b", "~", "/");
const typeName = fc.oneof(fc.constantFrom("object", "array", "string", "number", "integer", "boolean", "null"), fc.constantFrom("float", "", 5, null));
const ref = fc.oneof(
  defName.map((name) => `#/$defs/${encodeURIComponent(name).replaceAll("~", "~0").replaceAll("%2F", "~1")}`),
  defName.map((name) => `#/definitions/${name}`),
  fc.constantFrom("#", "#/$defs/", "#/$defs/%E0%A4%A", "#/$defs/a/b", "http://example.com/s.json", "#/properties/a", 5, null),
);
const literal = fc.jsonValue({ maxDepth: 3 });

/** A schema tree of the keywords the compiler knows, and some it refuses. */
const schemaTree = fc.letrec<{ schema: unknown }>((tie) => ({
  schema: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.constantFrom(true, false, {}, { type: "string" }, { type: "number" }, { type: "integer" }, { type: "boolean" }, { type: "null" }),
    fc.record(
      {
        type: fc.constant("object"),
        properties: fc.dictionary(propertyName, tie("schema"), { maxKeys: 4 }),
        required: fc.array(propertyName, { maxLength: 4 }),
        additionalProperties: fc.oneof(fc.boolean(), tie("schema")),
        title: fc.string(),
      },
      { requiredKeys: [] },
    ),
    fc.record({ type: fc.constant("array"), items: tie("schema") }, { requiredKeys: [] }),
    fc.record({ anyOf: fc.array(tie("schema"), { maxLength: 4 }) }),
    fc.record({ enum: fc.array(literal, { maxLength: 6 }), type: fc.oneof(typeName, fc.array(typeName, { maxLength: 3 })) }, { requiredKeys: ["enum"] }),
    fc.record({ const: literal }),
    fc.record({ type: fc.array(typeName, { maxLength: 4 }) }),
    fc.record({ $ref: ref, description: fc.string() }, { requiredKeys: ["$ref"] }),
    fc.record({ type: typeName, pattern: fc.string(), minimum: fc.integer(), format: fc.constant("date") }, { requiredKeys: ["type"] }),
    literal,
  ),
}));

/** A schema tree at the root, with $defs its $refs may or may not find. */
export const plainSchemaText = fc
  .tuple(schemaTree.schema, fc.option(fc.dictionary(defName, schemaTree.schema, { maxKeys: 3 }), { nil: undefined }), fc.boolean())
  .map(([root, defs, underDefinitions]) => {
    if (defs === undefined || typeof root !== "object" || root === null || Array.isArray(root)) return JSON.stringify(root);
    return JSON.stringify({ ...root, [underDefinitions ? "definitions" : "$defs"]: defs });
  });

/** Depths around the limits and far past them. */
const depth = fc.oneof(fc.integer({ min: 1, max: 80 }), fc.integer({ min: 240, max: 270 }), fc.integer({ min: 1_000, max: 20_000 }));
const leaf = fc.oneof(fc.constant('{"type":"string"}'), plainSchemaText);

const wrap = (times: number, open: string, inner: string, close: string) => open.repeat(times) + inner + close.repeat(times);

/** Shapes built to exhaust the stack, the heap or the time. */
export const hostileSchemaText = fc.oneof(
  fc.tuple(depth, leaf).map(([d, inner]) => wrap(d, '{"type":"object","properties":{"a":', inner, "}}")),
  fc.tuple(depth, leaf).map(([d, inner]) => wrap(d, '{"type":"object","required":["a"],"properties":{"a":', inner, "}}")),
  fc.tuple(depth, leaf).map(([d, inner]) => wrap(d, '{"type":"array","items":', inner, "}")),
  fc.tuple(depth, leaf).map(([d, inner]) => wrap(d, '{"anyOf":[', inner, "]}")),
  fc.tuple(depth, leaf).map(([d, inner]) => wrap(d, '{"additionalProperties":', inner, "}")),
  fc.tuple(depth, leaf).map(([d, inner]) => wrap(d, '{"$defs":{"a":', inner, "}}")),
  depth.map((d) => `{"enum":[${wrap(d, "[", "1", "]")}]}`),
  depth.map((d) => `{"const":${wrap(d, '{"a":', "1", "}")}}`),
  fc.integer({ min: 1, max: 20_000 }).map((length) => {
    const defs = Array.from({ length }, (_, i) => `"d${i}":${i + 1 < length ? `{"$ref":"#/$defs/d${i + 1}"}` : '{"type":"string"}'}`);
    return `{"$ref":"#/$defs/d0","$defs":{${defs.join(",")}}}`;
  }),
  fc.tuple(fc.integer({ min: 1, max: 30 }), fc.integer({ min: 1, max: 6 })).map(([levels, fan]) => {
    const properties = (next: string) => Array.from({ length: fan }, (_, k) => `"p${k}":{"$ref":"#/$defs/${next}"}`).join(",");
    const defs = Array.from({ length: levels }, (_, i) => `"d${i}":${i + 1 < levels ? `{"type":"object","properties":{${properties(`d${i + 1}`)}}}` : '{"type":"integer"}'}`);
    return `{"$ref":"#/$defs/d0","$defs":{${defs.join(",")}}}`;
  }),
  fc.integer({ min: 1, max: 30_000 }).map((n) => `{"type":"object","properties":{${Array.from({ length: n }, (_, i) => `"property_${i}":{"type":"string"}`).join(",")}}}`),
  fc.integer({ min: 1, max: 30_000 }).map((n) => `{"enum":[${Array.from({ length: n }, (_, i) => `"value ${i % 7 === 0 ? "" : i}"`).join(",")}]}`),
  fc.integer({ min: 1, max: 50_000 }).map((n) => `{"type":"object","properties":{"a":{}},"required":[${Array.from({ length: n }, (_, i) => `"r${i % 100}"`).join(",")}]}`),
  fc.integer({ min: 1, max: 200_000 }).map((n) => `{"type":"object","properties":{${JSON.stringify("k".repeat(n))}:{"type":"string"}},"required":[${JSON.stringify("k".repeat(n))}]}`),
);

export const schemaText = fc.oneof({ arbitrary: plainSchemaText, weight: 2 }, { arbitrary: hostileSchemaText, weight: 3 });
