// A safetensors file taken apart (length prefix, JSON header, data) and put back together with
// lies: shapes, offsets and dtypes that disagree with the data, a length prefix that disagrees
// with the header, deep nesting anywhere in the header, many tensors, duplicate names, missing or
// extra data.
import fc from "fast-check";
import { deeplyNestedJson } from "@gemma-ts/fuzz";
import { hostileJson, jsonText, nestedDepths, type Json } from "./json-lies.js";

export interface SafetensorsParts {
  header: Record<string, Json>;
  data: Uint8Array;
}

export function safetensorsParts(file: Uint8Array): SafetensorsParts {
  const length = Number(new DataView(file.buffer, file.byteOffset).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(file.subarray(8, 8 + length))) as Record<string, Json>;
  return { header, data: file.slice(8 + length) };
}

export type SafetensorsLie =
  | { kind: "field"; tensor: string; field: "shape" | "data_offsets" | "dtype"; value: Json }
  | { kind: "entry"; tensor: string; value: Json }
  | { kind: "metadata"; value: Json }
  | { kind: "dtype"; tensor: string; value: string }
  | { kind: "nestedHeader"; depth: number }
  | { kind: "manyTensors"; count: number }
  | { kind: "duplicate"; tensor: string }
  | { kind: "prefix"; value: bigint }
  | { kind: "truncateData"; keep: number }
  | { kind: "extraData"; bytes: number }
  | { kind: "headerText"; text: string };

export function safetensorsLie(parts: SafetensorsParts): fc.Arbitrary<SafetensorsLie> {
  const tensor = fc.constantFrom(...Object.keys(parts.header).filter((name) => name !== "__metadata__"));
  return fc.oneof(
    fc.record({ kind: fc.constant("field" as const), tensor, field: fc.constantFrom("shape" as const, "data_offsets" as const, "dtype" as const), value: hostileJson }),
    fc.record({ kind: fc.constant("entry" as const), tensor, value: hostileJson }),
    fc.record({ kind: fc.constant("metadata" as const), value: fc.oneof(hostileJson, fc.dictionary(fc.string({ maxLength: 4 }), hostileJson, { maxKeys: 3 })) }),
    fc.record({ kind: fc.constant("dtype" as const), tensor, value: fc.constantFrom("F32", "F16", "BF16", "I32", "I64", "F64", "U8", "BOOL", "F8_E4M3", "C64", "F4", "Q4_K", "", "f32") }),
    fc.record({ kind: fc.constant("nestedHeader" as const), depth: nestedDepths }),
    fc.record({ kind: fc.constant("manyTensors" as const), count: fc.constantFrom(10, 1_000, 50_000) }),
    fc.record({ kind: fc.constant("duplicate" as const), tensor }),
    fc.record({ kind: fc.constant("prefix" as const), value: fc.constantFrom(0n, 1n, 2n, 7n, 8n, 99_999_999n, 100_000_001n, 2n ** 32n, 2n ** 53n, 2n ** 63n, 2n ** 64n - 1n) }),
    fc.record({ kind: fc.constant("truncateData" as const), keep: fc.nat({ max: parts.data.length }) }),
    fc.record({ kind: fc.constant("extraData" as const), bytes: fc.integer({ min: 1, max: 64 }) }),
    fc.record({ kind: fc.constant("headerText" as const), text: fc.constantFrom("", " ", "{", "[]", "null", "1", '"x"', "{}", '{"a":1}', "\ufeff{}", " {}") }),
  );
}

/** The file with the lies told; the parts are left as they were. */
export function encodeWithLies(parts: SafetensorsParts, lies: readonly SafetensorsLie[]): Uint8Array {
  const header: Record<string, Json> = structuredClone(parts.header);
  let data = parts.data;
  let text: string | undefined;
  let prefix: bigint | undefined;
  const extra: string[] = [];
  for (const lie of lies) {
    switch (lie.kind) {
      case "field":
        entryOf(header, lie.tensor)[lie.field] = lie.value;
        break;
      case "dtype":
        entryOf(header, lie.tensor).dtype = lie.value;
        break;
      case "entry":
        header[lie.tensor] = lie.value;
        break;
      case "metadata":
        header.__metadata__ = lie.value;
        break;
      case "nestedHeader":
        text = deeplyNestedJson(lie.depth, "a");
        break;
      case "manyTensors":
        for (let i = 0; i < lie.count; i++) header[`extra.${i}`] = { dtype: "F32", shape: [0], data_offsets: [data.length, data.length] };
        break;
      case "duplicate":
        extra.push(`${JSON.stringify(lie.tensor)}:${jsonText(header[lie.tensor])}`);
        break;
      case "prefix":
        prefix = lie.value;
        break;
      case "truncateData":
        data = data.subarray(0, lie.keep);
        break;
      case "extraData":
        data = concat(data, new Uint8Array(lie.bytes).fill(0x5a));
        break;
      case "headerText":
        text = lie.text;
        break;
    }
  }
  if (text === undefined) {
    text = jsonText(header);
    if (extra.length > 0) text = `${text.slice(0, -1)},${extra.join(",")}}`;
  }
  const headerBytes = new TextEncoder().encode(text);
  const out = new Uint8Array(8 + headerBytes.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt.asUintN(64, prefix ?? BigInt(headerBytes.length)), true);
  out.set(headerBytes, 8);
  out.set(data, 8 + headerBytes.length);
  return out;
}

/** A tensor's entry to edit; one an earlier lie replaced by a non-object becomes an object again. */
function entryOf(header: Record<string, Json>, tensor: string): Record<string, Json> {
  const entry = header[tensor];
  if (typeof entry === "object" && entry !== null && !Array.isArray(entry)) return entry;
  const fresh: Record<string, Json> = {};
  header[tensor] = fresh;
  return fresh;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
