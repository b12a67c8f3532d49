// Hugging Face's TemplateProcessing for single sequences: Gemma's template is `<bos> $A`.
import type { PostProcessor } from "./components.js";

export type TemplatePiece = { kind: "sequence" } | { kind: "special"; ids: readonly number[] };

export class TemplatePostProcessor implements PostProcessor {
  constructor(private readonly single: readonly TemplatePiece[]) {}

  process(ids: Int32Array): Int32Array {
    let length = 0;
    for (const piece of this.single) length += piece.kind === "sequence" ? ids.length : piece.ids.length;
    const out = new Int32Array(length);
    let at = 0;
    for (const piece of this.single) {
      if (piece.kind === "sequence") {
        out.set(ids, at);
        at += ids.length;
      } else {
        out.set(piece.ids, at);
        at += piece.ids.length;
      }
    }
    return out;
  }
}
