// The JSON state machine of constrained decoding: a stack of frames (object, array, string,
// number, literal) driven by the compiled schema, stepped one byte at a time. It works on bytes,
// not characters, so byte-fallback tokens need no special case: inside a string any well-formed
// UTF-8 is allowed (a lead byte must be followed by its continuation bytes), everywhere else only
// ASCII. States are immutable, so walking the vocabulary can branch from any of them for free.
//
// Every state knows `cost`: the length of its cheapest completion (close the string, fill in the
// required properties with their shortest values, close the brackets), and `closing()` spells it.
// Stepping the first byte of that completion lowers the cost by one, which is what lets the
// decoder always finish the JSON within its token budget.
import type { CompiledSchema } from "./json-schema.js";
import { RootFrame } from "./json-container-frames.js";
import { PASS, type Frame } from "./json-frame.js";

export class JsonState {
  /** Completion cost of the frames below the top. */
  private readonly tail: number;
  private keyCache: string | undefined;

  private constructor(
    private readonly frame: Frame | null,
    private readonly parent: JsonState | null,
  ) {
    this.tail = parent ? parent.frame!.costAfterChild + parent.tail : 0;
  }

  static initial(schema: CompiledSchema): JsonState {
    return new JsonState(new RootFrame(schema, schema.root, false), null);
  }

  /** The top-level value is complete and nothing may follow. */
  get done(): boolean {
    return this.frame === null;
  }

  /** The text so far is a complete JSON value (generation may stop here). */
  get canEnd(): boolean {
    return this.frame === null || (this.frame.complete && this.parent !== null && this.parent.frame instanceof RootFrame);
  }

  /** Bytes still needed, at the least, to complete the JSON. */
  get cost(): number {
    return this.frame ? this.frame.cost + this.tail : 0;
  }

  get key(): string {
    if (this.keyCache === undefined) this.keyCache = this.frame ? `${this.frame.key}|${this.parent?.key ?? ""}` : "done";
    return this.keyCache;
  }

  /** The cheapest completion, byte by byte. */
  closing(): number[] {
    if (!this.frame) return [];
    const out = this.frame.closing();
    for (let state = this.parent; state?.frame; state = state.parent) out.push(...state.frame.closingAfterChild());
    return out;
  }

  step(byte: number): JsonState | null {
    if (!this.frame) return null;
    const result = this.frame.step(byte);
    if (result === null) return null;
    if (result === PASS) return this.parent ? this.parent.afterChild().step(byte) : null;
    if ("child" in result) return JsonState.settle(result.child, new JsonState(result.self, this.parent));
    return JsonState.settle(result, this.parent);
  }

  /** Inside a string: its frame relaxed (Frame.relax) and alone, for a walk that serves any count and any frames below. */
  relaxed(): JsonState | undefined {
    const frame = this.frame?.relax?.();
    return frame ? new JsonState(frame, null) : undefined;
  }

  /** This state after the bytes that took relaxed() to `end`; null when the JSON could not be completed from there. */
  resume(end: JsonState): JsonState | null {
    const frame = this.frame!.resume!(end.frame!);
    return frame ? new JsonState(frame, this.parent) : null;
  }

  /** Steps every byte; null as soon as one is not allowed. */
  stepAll(bytes: ArrayLike<number>): JsonState | null {
    let state: JsonState | null = this;
    for (let i = 0; i < bytes.length && state; i++) state = state.step(bytes[i]!);
    return state;
  }

  /** This state once its top frame's open child has completed. */
  private afterChild(): JsonState {
    return JsonState.settle(this.frame!.childDone(), this.parent);
  }

  /** `frame` on top of `parent`, popped at once if it is finished. */
  private static settle(frame: Frame, parent: JsonState | null): JsonState {
    if (!frame.finished) return new JsonState(frame, parent);
    return parent ? parent.afterChild() : new JsonState(null, null);
  }
}
