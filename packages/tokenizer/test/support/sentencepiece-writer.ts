// Writes SentencePiece ModelProto bytes (sentencepiece_model.proto) from a plain description, so
// tests can build small valid models, and models that lie in exactly one field, without
// spm_train. Only the protobuf wire format is needed: varints, fixed32 floats and
// length-delimited fields.

export interface PieceSpec {
  piece: string;
  score?: number;
  /** ModelProto.SentencePiece.Type: 1 NORMAL, 2 UNKNOWN, 3 CONTROL, 4 USER_DEFINED, 5 UNUSED, 6 BYTE. */
  type?: number;
}

export interface ModelSpec {
  pieces: PieceSpec[];
  /** TrainerSpec fields by number, e.g. { 3: 2 } for model_type BPE; strings are length-delimited. */
  trainer?: Record<number, number | boolean | string | undefined>;
  /** NormalizerSpec fields by number; 2 (precompiled_charsmap) takes bytes. */
  normalizer?: Record<number, number | boolean | string | Uint8Array | undefined>;
}

const utf8 = new TextEncoder();

export function varint(value: number | bigint): number[] {
  let v = BigInt.asUintN(64, BigInt(value));
  const out: number[] = [];
  do {
    const byte = Number(v & 0x7fn);
    v >>= 7n;
    out.push(v > 0n ? byte | 0x80 : byte);
  } while (v > 0n);
  return out;
}

export function tag(field: number, wireType: number): number[] {
  return varint(field * 8 + wireType);
}

export function lengthDelimited(field: number, bytes: ArrayLike<number>): number[] {
  return [...tag(field, 2), ...varint(bytes.length), ...Array.from(bytes)];
}

function scalarField(field: number, value: number | boolean | string | Uint8Array | undefined): number[] {
  if (value === undefined) return [];
  if (typeof value === "string") return lengthDelimited(field, utf8.encode(value));
  if (value instanceof Uint8Array) return lengthDelimited(field, value);
  return [...tag(field, 0), ...varint(typeof value === "boolean" ? Number(value) : value)];
}

export function pieceMessage({ piece, score = 0, type = 1 }: PieceSpec): number[] {
  const scoreBytes = new Uint8Array(4);
  new DataView(scoreBytes.buffer).setFloat32(0, score, true);
  return [...lengthDelimited(1, utf8.encode(piece)), ...tag(2, 5), ...scoreBytes, ...(type === 1 ? [] : scalarField(3, type))];
}

export function writeModel(spec: ModelSpec): Uint8Array {
  const out: number[] = [];
  for (const piece of spec.pieces) out.push(...lengthDelimited(1, pieceMessage(piece)));
  const trainer = Object.entries({ 3: 2, ...spec.trainer }).flatMap(([field, value]) => scalarField(Number(field), value));
  out.push(...lengthDelimited(2, trainer));
  const normalizer = Object.entries({ 1: "identity", 3: false, 4: false, ...spec.normalizer }).flatMap(([field, value]) => scalarField(Number(field), value));
  out.push(...lengthDelimited(3, normalizer));
  return Uint8Array.from(out);
}

/**
 * A small valid BPE model in Gemma's style: <unk> <s> </s>, 256 byte pieces, a user-defined
 * symbol, letters and a few merged pieces; no normalization rules.
 */
export function smallModelSpec(): ModelSpec {
  const pieces: PieceSpec[] = [
    { piece: "<unk>", type: 2 },
    { piece: "<s>", type: 3 },
    { piece: "</s>", type: 3 },
    { piece: "<tag>", type: 4 },
  ];
  for (let byte = 0; byte < 256; byte++) pieces.push({ piece: `<0x${byte.toString(16).toUpperCase().padStart(2, "0")}>`, type: 6 });
  const merged = ["▁t", "he", "▁the", "in", "▁a", "an", "▁an", "er", "on", "▁o"];
  merged.forEach((piece, i) => pieces.push({ piece, score: -i }));
  for (const [i, piece] of [..."▁etaoinshrdlucmfwypvbgkjqxz"].entries()) pieces.push({ piece, score: -100 - i });
  return { pieces, trainer: { 35: true }, normalizer: {} };
}
