// SentencePiece's decoder (sentencepiece_processor.cc SentencePieceProcessor::Decode): control
// pieces (<s>, </s>) vanish, <unk> becomes unk_surface (" ⁇ "), runs of byte pieces become their
// UTF-8 text (one U+FFFD per byte that does not start a valid character), '▁' becomes ' ', and
// the '▁' the dummy prefix put in front of the text is dropped again.
import type { Decoder, Normalizer } from "../components.js";
import { checkOutputLength, maxOutputLength } from "../limits.js";
import { parseByteToken } from "../models/bpe.js";
import { totalLength } from "./hf-decoders.js";

export type ReservedPieceKind = "control" | "unknown" | "byte";

export interface SentencePieceDecoderOptions {
  /** Control, unknown and byte pieces by their string; every other piece is text. */
  reserved: ReadonlyMap<string, ReservedPieceKind>;
  unkSurface: string;
  addDummyPrefix: boolean;
  removeExtraWhitespaces: boolean;
  /** The denormalizer_spec's normalizer, run over the decoded text, if the model has one. */
  denormalizer?: Normalizer | undefined;
}

const SPACE_MARK = "\u2581";

export class SentencePieceDecoder implements Decoder {
  constructor(private readonly options: SentencePieceDecoderOptions) {}

  decodeChain(tokens: string[], maxLength = maxOutputLength(totalLength(tokens))): string[] {
    const { reserved, unkSurface, addDummyPrefix, removeExtraWhitespaces, denormalizer } = this.options;
    let text = "";
    let bytes: number[] = [];
    // Whether a leading '▁' may still be dropped, and whether the last piece dropped one.
    let atStart = true;
    let droppedSpace = false;
    for (const token of tokens) {
      const kind = reserved.get(token);
      if (kind === "byte") {
        bytes.push(parseByteToken(token)!);
        continue;
      }
      if (bytes.length > 0) {
        text += decodeBytes(bytes);
        bytes = [];
      }
      if (droppedSpace || text.length > 0) atStart = false;
      droppedSpace = false;
      if (kind === "control") continue;
      if (kind === "unknown") {
        // unk_surface comes from the file and may be longer than the piece it stands for.
        text += unkSurface;
        checkOutputLength("the SentencePiece decoder", text.length, maxLength);
        continue;
      }
      let piece = token;
      if (atStart && (addDummyPrefix || removeExtraWhitespaces) && piece.startsWith(SPACE_MARK)) {
        piece = piece.slice(1);
        // With remove_extra_whitespaces each piece may drop one until some text appears;
        // otherwise only the first '▁' is the dummy prefix.
        droppedSpace = !removeExtraWhitespaces;
      }
      text += piece.replaceAll(SPACE_MARK, " ");
    }
    if (bytes.length > 0) text += decodeBytes(bytes);
    return [denormalizer ? denormalizer.normalize(text, maxLength) : text];
  }
}

/**
 * UTF-8 bytes to text one character at a time, as string_util::IsValidDecodeUTF8 does: a byte
 * that does not start a valid, complete, shortest-form character (no surrogates) becomes U+FFFD
 * and decoding goes on at the next byte. (TextDecoder would give one U+FFFD per maximal invalid
 * subsequence instead.)
 */
export function decodeBytes(bytes: readonly number[]): string {
  let text = "";
  for (let i = 0; i < bytes.length; ) {
    const b0 = bytes[i]!;
    let codePoint = -1;
    let length = 1;
    if (b0 < 0x80) {
      codePoint = b0;
    } else if ((b0 & 0xe0) === 0xc0 && isTrail(bytes[i + 1])) {
      const cp = ((b0 & 0x1f) << 6) | (bytes[i + 1]! & 0x3f);
      if (cp >= 0x80) [codePoint, length] = [cp, 2];
    } else if ((b0 & 0xf0) === 0xe0 && isTrail(bytes[i + 1]) && isTrail(bytes[i + 2])) {
      const cp = ((b0 & 0x0f) << 12) | ((bytes[i + 1]! & 0x3f) << 6) | (bytes[i + 2]! & 0x3f);
      if (cp >= 0x800 && (cp < 0xd800 || cp > 0xdfff)) [codePoint, length] = [cp, 3];
    } else if ((b0 & 0xf8) === 0xf0 && isTrail(bytes[i + 1]) && isTrail(bytes[i + 2]) && isTrail(bytes[i + 3])) {
      const cp = ((b0 & 0x07) << 18) | ((bytes[i + 1]! & 0x3f) << 12) | ((bytes[i + 2]! & 0x3f) << 6) | (bytes[i + 3]! & 0x3f);
      if (cp >= 0x10000 && cp <= 0x10ffff) [codePoint, length] = [cp, 4];
    }
    text += codePoint < 0 ? "\ufffd" : String.fromCodePoint(codePoint);
    i += length;
  }
  return text;
}

function isTrail(byte: number | undefined): boolean {
  return byte !== undefined && (byte & 0xc0) === 0x80;
}
