// The container frames of the JSON state machine: the root (one value, then nothing), objects
// (declared keys typed inline, so the completion cost follows whichever key is being written) and
// arrays, and startValue, which opens the frame of a schema node from its first byte.
import { firstBytes, type ArrayNode, type CompiledSchema, type ObjectNode, type SchemaNode } from "./json-schema.js";
import { CLOSE_BRACE, CLOSE_BRACKET, COLON, COMMA, nextWhitespace, OPEN_BRACE, OPEN_BRACKET, QUOTE, type Frame, type StepResult } from "./json-frame.js";
import { BoundedNumberFrame } from "./json-number-frame.js";
import { PatternStringFrame } from "./json-pattern-frame.js";
import { LiteralFrame, NumberFrame, StringFrame } from "./json-scalar-frames.js";

/** The bottom frame: one value, then nothing. */
export class RootFrame implements Frame {
  readonly key: string;
  readonly cost: number;
  readonly complete = false;
  readonly costAfterChild = 0;

  constructor(
    private readonly schema: CompiledSchema,
    private readonly node: SchemaNode,
    readonly finished: boolean,
  ) {
    this.key = finished ? "R." : "R";
    this.cost = finished ? 0 : node.shortest.length;
  }

  step(byte: number): StepResult {
    if (this.finished) return null;
    const child = startValue(this.schema, this.node, byte);
    return child ? { self: this, child } : null;
  }

  closing(): number[] {
    return this.finished ? [] : [...this.node.shortest];
  }

  childDone(): Frame {
    return new RootFrame(this.schema, this.node, true);
  }

  closingAfterChild(): number[] {
    return [];
  }
}

/** The frame of a value of `node` that starts with `byte`, or null if it cannot. */
export function startValue(schema: CompiledSchema, node: SchemaNode, byte: number): Frame | null {
  switch (node.kind) {
    case "any": {
      const parts = schema.anyParts;
      if (byte === OPEN_BRACE) return startValue(schema, parts.object, byte);
      if (byte === OPEN_BRACKET) return startValue(schema, parts.array, byte);
      if (byte === QUOTE) return startValue(schema, parts.string, byte);
      return startValue(schema, parts.number, byte) ?? startValue(schema, parts.literals, byte);
    }
    case "object":
      return byte === OPEN_BRACE ? ObjectFrame.open(schema, node) : null;
    case "array":
      return byte === OPEN_BRACKET ? ArrayFrame.open(schema, node) : null;
    case "string":
      if (byte !== QUOTE) return null;
      return node.automaton ? PatternStringFrame.open(node) : StringFrame.open();
    case "number":
      return node.bounds ? BoundedNumberFrame.start(node, byte) : NumberFrame.start(node, byte);
    case "literal":
      return LiteralFrame.start(node, byte);
    case "union": {
      const option = node.options.find((candidate) => firstBytes(candidate).has(byte));
      return option ? startValue(schema, option, byte) : null;
    }
  }
}

type ObjectPhase = "open" | "key" | "freeKey" | "colon" | "value" | "child" | "after" | "comma";

/**
 * An object. Declared keys are typed inline (phase "key": `alive` are the properties whose key
 * starts with the `typed` bytes so far), so the cost can follow whichever key is being written;
 * free keys (objects without declared properties) are a string child.
 */
class ObjectFrame implements Frame {
  readonly key: string;
  readonly cost: number;
  readonly complete = false;
  readonly finished: boolean;
  private afterChild: number | undefined;

  private constructor(
    private readonly schema: CompiledSchema,
    private readonly node: ObjectNode,
    private readonly phase: ObjectPhase,
    /** '1' for each declared property already written. */
    private readonly used: string,
    /** The property being written (key chosen), -1 for a free key, when past the key. */
    private readonly property: number,
    /** Phase "key": key bytes typed so far and the properties still matching. */
    private readonly typed: number,
    private readonly alive: readonly number[],
    private readonly whitespace: number,
    finished = false,
  ) {
    this.finished = finished;
    this.key = `O${node.id}${phase}${used}.${property}.${typed}.${alive.join(",")}.${whitespace}${finished ? "!" : ""}`;
    this.cost = finished ? 0 : this.computeCost();
  }

  static open(schema: CompiledSchema, node: ObjectNode): ObjectFrame {
    return new ObjectFrame(schema, node, "open", "0".repeat(node.properties.length), -1, 0, [], 0);
  }

  private with(phase: ObjectPhase, changes: { used?: string; property?: number; typed?: number; alive?: readonly number[]; whitespace?: number; finished?: boolean } = {}): ObjectFrame {
    return new ObjectFrame(
      this.schema,
      this.node,
      phase,
      changes.used ?? this.used,
      changes.property ?? this.property,
      changes.typed ?? 0,
      changes.alive ?? [],
      changes.whitespace ?? 0,
      changes.finished ?? false,
    );
  }

  private get free(): boolean {
    return this.node.properties.length === 0;
  }

  private unused(): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.node.properties.length; i++) if (this.used[i] !== "1") out.push(i);
    return out;
  }

  private missingRequired(used: string): number[] {
    const out: number[] = [];
    this.node.properties.forEach((property, i) => {
      if (property.required && used[i] !== "1") out.push(i);
    });
    return out;
  }

  /** A key can still be written after a comma. */
  private canAddKey(): boolean {
    return this.free ? this.node.free !== null : this.used.includes("0");
  }

  /** The value schema of the property being written. */
  private valueNode(): SchemaNode {
    return this.property >= 0 ? this.node.properties[this.property]!.value : this.node.free!;
  }

  step(byte: number): StepResult {
    const phase = this.phase;
    const space = nextWhitespace(this.whitespace, byte);
    switch (phase) {
      case "open":
      case "comma":
        if (space !== null) return this.with(phase, { whitespace: space });
        if (byte === CLOSE_BRACE && phase === "open" && this.missingRequired(this.used).length === 0) return this.with(phase, { finished: true });
        if (byte !== QUOTE || !this.canAddKey()) return null;
        if (this.free) return { self: this.with("freeKey"), child: StringFrame.open() };
        return this.with("key", { typed: 1, alive: this.unused() });
      case "key": {
        const alive = this.alive.filter((i) => this.node.properties[i]!.key[this.typed] === byte);
        if (alive.length === 0) return null;
        const typed = this.typed + 1;
        // Keys end with their closing quote, so a finished key is no other key's prefix.
        const done = alive.find((i) => this.node.properties[i]!.key.length === typed);
        if (done === undefined) return this.with("key", { typed, alive });
        return this.with("colon", { property: done, used: `${this.used.slice(0, done)}1${this.used.slice(done + 1)}` });
      }
      case "colon":
        if (space !== null) return this.with("colon", { whitespace: space });
        return byte === COLON ? this.with("value") : null;
      case "value": {
        if (space !== null) return this.with("value", { whitespace: space });
        const child = startValue(this.schema, this.valueNode(), byte);
        return child ? { self: this.with("child"), child } : null;
      }
      case "after":
        if (space !== null) return this.with("after", { whitespace: space });
        if (byte === COMMA && this.canAddKey()) return this.with("comma");
        if (byte === CLOSE_BRACE && this.missingRequired(this.used).length === 0) return this.with("after", { finished: true });
        return null;
      case "freeKey":
      case "child":
        return null; // a child is open; it gets the bytes
    }
  }

  childDone(): Frame {
    return this.phase === "freeKey" ? this.with("colon") : this.with("after");
  }

  /** Writes `"key":shortest` for each missing required property, then `}`. */
  private rest(used: string, leadingComma: boolean): number[] {
    const out: number[] = [];
    this.missingRequired(used).forEach((i, n) => {
      const property = this.node.properties[i]!;
      if (n > 0 || leadingComma) out.push(COMMA);
      out.push(...property.key, COLON, ...property.value.shortest);
    });
    out.push(CLOSE_BRACE);
    return out;
  }

  private restCost(used: string, leadingComma: boolean): number {
    let cost = 1;
    this.missingRequired(used).forEach((i, n) => {
      const property = this.node.properties[i]!;
      cost += (n > 0 || leadingComma ? 1 : 0) + property.key.length + 1 + property.value.shortest.length;
    });
    return cost;
  }

  /** After a comma with nothing required left, some key must still be written: the cheapest. */
  private cheapestKey(): number[] {
    if (this.free) return [QUOTE, QUOTE, COLON, ...this.node.free!.shortest];
    const property = this.node.properties[this.cheapestUnused().index]!;
    return [...property.key, COLON, ...property.value.shortest];
  }

  /** The unused property whose `"key":shortest` is shortest, and that length. */
  private cheapestUnused(): { index: number; length: number } {
    let index = -1;
    let length = Number.POSITIVE_INFINITY;
    for (let i = 0; i < this.node.properties.length; i++) {
      if (this.used[i] === "1") continue;
      const property = this.node.properties[i]!;
      const text = property.key.length + 1 + property.value.shortest.length;
      if (text < length) [index, length] = [i, text];
    }
    return { index, length };
  }

  /**
   * Typing a declared key: the matching property that completes the object cheapest, and that
   * cost. Each is priced from one restCost less its own share (when required), not by spelling
   * the rest for each: objects may have thousands of properties.
   */
  private cheapestAlive(): { index: number; cost: number } {
    const base = this.restCost(this.used, true);
    let index = -1;
    let cost = Number.POSITIVE_INFINITY;
    for (const i of this.alive) {
      const property = this.node.properties[i]!;
      const own = property.required ? 2 + property.key.length + property.value.shortest.length : 0;
      const total = property.key.length - this.typed + 1 + property.value.shortest.length + base - own;
      if (total < cost) [index, cost] = [i, total];
    }
    return { index, cost };
  }

  /** Typing a declared key: the cheapest way on among the keys still matching. */
  private keyCompletion(): number[] {
    const i = this.cheapestAlive().index;
    const property = this.node.properties[i]!;
    const used = `${this.used.slice(0, i)}1${this.used.slice(i + 1)}`;
    return [...property.key.subarray(this.typed), COLON, ...property.value.shortest, ...this.rest(used, true)];
  }

  closing(): number[] {
    if (this.finished) return [];
    switch (this.phase) {
      case "open":
        return this.rest(this.used, false);
      case "comma":
        return this.missingRequired(this.used).length > 0 ? this.rest(this.used, false) : [...this.cheapestKey(), CLOSE_BRACE];
      case "key":
        return this.keyCompletion();
      case "colon":
        return [COLON, ...this.valueNode().shortest, ...this.rest(this.used, true)];
      case "value":
        return [...this.valueNode().shortest, ...this.rest(this.used, true)];
      case "after":
        return this.rest(this.used, true);
      case "freeKey":
      case "child":
        return []; // the child's completion comes first, then closingAfterChild
    }
  }

  private computeCost(): number {
    switch (this.phase) {
      case "open":
        return this.restCost(this.used, false);
      case "after":
        return this.restCost(this.used, true);
      case "colon":
        return 1 + this.valueNode().shortest.length + this.restCost(this.used, true);
      case "value":
        return this.valueNode().shortest.length + this.restCost(this.used, true);
      case "freeKey":
      case "child":
        return 0;
      case "key":
        return this.cheapestAlive().cost;
      case "comma": {
        if (this.missingRequired(this.used).length > 0) return this.restCost(this.used, false);
        const key = this.free ? 3 + this.node.free!.shortest.length : this.cheapestUnused().length;
        return key + 1;
      }
    }
  }

  /** Every state below this frame asks, once per byte of its value: computed once. */
  get costAfterChild(): number {
    this.afterChild ??= this.phase === "freeKey" ? 1 + this.node.free!.shortest.length + 1 : this.restCost(this.used, true);
    return this.afterChild;
  }

  closingAfterChild(): number[] {
    return this.phase === "freeKey" ? [COLON, ...this.node.free!.shortest, CLOSE_BRACE] : this.rest(this.used, true);
  }
}

type ArrayPhase = "open" | "child" | "after" | "comma";

/** An array; `count` is the items started so far, capped where minItems and maxItems stop telling counts apart. */
class ArrayFrame implements Frame {
  readonly key: string;
  readonly cost: number;
  readonly complete = false;
  readonly costAfterChild: number;

  private constructor(
    private readonly schema: CompiledSchema,
    private readonly node: ArrayNode,
    private readonly phase: ArrayPhase,
    private readonly count: number,
    private readonly whitespace: number,
    readonly finished: boolean,
  ) {
    this.key = `A${node.id}${phase}${count}.${whitespace}${finished ? "!" : ""}`;
    const item = node.items.shortest.length;
    // Items still owed after this point, each with its comma.
    const owed = Math.max(0, node.minItems - count);
    this.costAfterChild = 1 + owed * (item + 1);
    if (finished || phase === "child") this.cost = 0;
    else if (phase === "comma") this.cost = item + Math.max(0, owed - 1) * (item + 1) + 1;
    else if (phase === "open") this.cost = owed === 0 ? 1 : owed * (item + 1);
    else this.cost = 1 + owed * (item + 1);
  }

  static open(schema: CompiledSchema, node: ArrayNode): ArrayFrame {
    return new ArrayFrame(schema, node, "open", 0, 0, false);
  }

  private with(phase: ArrayPhase, count = this.count, whitespace = 0, finished = false): ArrayFrame {
    const cap = this.node.maxItems ?? this.node.minItems;
    return new ArrayFrame(this.schema, this.node, phase, Math.min(count, cap), whitespace, finished);
  }

  private get canAdd(): boolean {
    return this.node.maxItems === null || this.count < this.node.maxItems;
  }

  step(byte: number): StepResult {
    if (this.phase === "child") return null;
    const space = nextWhitespace(this.whitespace, byte);
    if (space !== null) return this.with(this.phase, this.count, space);
    if (byte === CLOSE_BRACKET && this.phase !== "comma" && this.count >= this.node.minItems) return this.with(this.phase, this.count, 0, true);
    if (byte === COMMA && this.phase === "after" && this.canAdd) return this.with("comma");
    if (this.phase === "after" || !this.canAdd) return null;
    const child = startValue(this.schema, this.node.items, byte);
    return child ? { self: this.with("child", this.count + 1), child } : null;
  }

  closing(): number[] {
    if (this.finished || this.phase === "child") return [];
    const item = [...this.node.items.shortest];
    const owed = Math.max(0, this.node.minItems - this.count);
    if (this.phase === "comma") return [...item, ...this.more(Math.max(0, owed - 1)), CLOSE_BRACKET];
    if (this.phase === "open" && owed > 0) return [...item, ...this.more(owed - 1), CLOSE_BRACKET];
    return [...this.more(owed), CLOSE_BRACKET];
  }

  /** `n` more items, each after a comma. */
  private more(n: number): number[] {
    const out: number[] = [];
    for (let i = 0; i < n; i++) out.push(COMMA, ...this.node.items.shortest);
    return out;
  }

  childDone(): Frame {
    return this.with("after");
  }

  closingAfterChild(): number[] {
    return [...this.more(Math.max(0, this.node.minItems - this.count)), CLOSE_BRACKET];
  }
}
