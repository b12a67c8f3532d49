// JSON values a hostile file might hold where a loader expects a size, a name or an object:
// boundary numbers, wrong kinds, long arrays, and raw texts JSON.stringify cannot produce (1e999,
// which parses to Infinity; arrays or objects nested thousands deep). Raw texts travel as marker
// strings that jsonText() splices in, so whole documents can still be built with JSON.stringify.

import { deeplyNestedJson } from "@gemma-ts/fuzz";
import fc from "fast-check";

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const RAW = "@@raw@@";

/** A marker that jsonText() replaces with `text`, unquoted. */
export function raw(text: string): string {
  return `${RAW}${encodeURIComponent(text)}`;
}

/** A raw() marker as a finding shows it: the start of the text and its length; other strings as they are. */
export function describeRaw(value: string): string {
  if (!value.startsWith(RAW)) return value;
  const text = decodeURIComponent(value.slice(RAW.length));
  return `raw ${text.length} chars: ${text.slice(0, 40)}`;
}

/** JSON.stringify with the raw() markers spliced in. */
export function jsonText(value: unknown): string {
  return JSON.stringify(value).replace(/"@@raw@@([^"]*)"/g, (_, text: string) => decodeURIComponent(text));
}

export const nestedDepths = fc.oneof(fc.integer({ min: 1, max: 64 }), fc.constantFrom(1_000, 10_000, 100_000));

export const absurdNumbers = fc.constantFrom(-1, 0, 0.5, 1, 2 ** 31 - 1, 2 ** 32, 1e9, 2 ** 53, 2 ** 53 + 2, 2 ** 64, 1e308, -(2 ** 53));

export const hostileJson: fc.Arbitrary<Json> = fc.oneof(
  absurdNumbers,
  fc.constantFrom(raw("1e999"), raw("-1e999"), raw("1.0e2"), raw("-0")),
  fc.string({ maxLength: 8 }),
  fc.constantFrom(null, true, false),
  fc.array(absurdNumbers, { maxLength: 6 }),
  fc.integer({ min: 100, max: 5000 }).map((length) => new Array(length).fill(1)),
  fc.constant<Json>({}),
  fc.constant<Json>([]),
  fc.tuple(nestedDepths, fc.boolean()).map(([depth, objects]) => raw(deeplyNestedJson(depth, objects ? "a" : undefined))),
);
