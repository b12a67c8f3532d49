// Loads a SentencePiece .model file (a serialized ModelProto, sentencepiece_model.proto) of
// model_type BPE into the pipeline: SentencePiece's normalizer, its BPE model, its decoder.
// Encoding matches SentencePieceProcessor::Encode (no <s> / </s> unless asked for); UNIGRAM, WORD
// and CHAR models are refused with an UnsupportedComponentError that names them. Counts and
// lengths are checked against TOKENIZER_LIMITS (limits.ts) as they are read; the messages are
// read by a fixed schema, not recursively, so nesting in the file cannot reach the stack.
import type { PostProcessor } from "../components.js";
import { SentencePieceDecoder, type ReservedPieceKind } from "../decoders/sentencepiece.js";
import { InvalidArgumentError, MalformedTokenizerFileError, UnsupportedComponentError } from "../errors.js";
import { checkLimit, TOKENIZER_LIMITS, type TokenizerLimitName } from "../limits.js";
import { PieceType, SentencePieceBpeModel, type SentencePieceEntry } from "../models/sentencepiece-bpe.js";
import { PrecompiledCharsmap } from "../normalizers/precompiled-charsmap.js";
import { PrefixMatcher } from "../normalizers/prefix-matcher.js";
import { SentencePieceNormalizer } from "../normalizers/sentencepiece.js";
import { TemplatePostProcessor } from "../post-processors.js";
import { Tokenizer } from "../tokenizer.js";
import {
  ProtobufReader,
  WIRE_FIXED32,
  WIRE_LENGTH_DELIMITED,
  WIRE_VARINT,
  type ProtoField,
} from "./protobuf-reader.js";

/** TrainerSpec.ModelType. */
const MODEL_TYPES: Record<number, string> = { 1: "UNIGRAM", 2: "BPE", 3: "WORD", 4: "CHAR" };

/** The TrainerSpec fields that change encoding or decoding, with the proto's defaults. */
export interface TrainerSpec {
  modelType: number;
  vocabSize: number;
  byteFallback: boolean;
  splitDigits: boolean;
  treatWhitespaceAsSuffix: boolean;
  allowWhitespaceOnlyPieces: boolean;
  userDefinedSymbols: string[];
  controlSymbols: string[];
  unkId: number;
  bosId: number;
  eosId: number;
  padId: number;
  unkPiece: string;
  bosPiece: string;
  eosPiece: string;
  padPiece: string;
  unkSurface: string;
}

export interface NormalizerSpec {
  name: string;
  precompiledCharsmap: Uint8Array;
  addDummyPrefix: boolean;
  removeExtraWhitespaces: boolean;
  escapeWhitespaces: boolean;
}

export interface SentencePieceModelProto {
  pieces: SentencePieceEntry[];
  trainerSpec: TrainerSpec;
  normalizerSpec: NormalizerSpec;
  denormalizerSpec: NormalizerSpec | undefined;
}

export interface SentencePieceLoadOptions {
  /** Put bos_piece (<s>) in front of every encoding, as encode(add_bos=True) does. Default false. */
  addBos?: boolean;
  /** Put eos_piece (</s>) after every encoding, as encode(add_eos=True) does. Default false. */
  addEos?: boolean;
}

/** Builds a tokenizer from the bytes of a SentencePiece BPE .model file. */
export function tokenizerFromSentencePiece(bytes: Uint8Array, options: SentencePieceLoadOptions = {}): Tokenizer {
  if (!(bytes instanceof Uint8Array)) throw new InvalidArgumentError("bytes", "expected the bytes of a .model file (a Uint8Array)");
  checkLimit("fileBytes", "the size of the .model file", bytes.length);
  const proto = parseSentencePieceModel(bytes);
  const { trainerSpec, normalizerSpec, denormalizerSpec } = proto;
  const modelType = MODEL_TYPES[trainerSpec.modelType] ?? `unknown type ${trainerSpec.modelType}`;
  if (modelType !== "BPE") {
    throw new UnsupportedComponentError("SentencePiece model_type", `${modelType} (only BPE is supported)`);
  }
  const userDefined = proto.pieces.filter((entry) => entry.type === PieceType.USER_DEFINED).map((entry) => entry.piece);
  // Each character of a user-defined symbol is a node of the tries that find them in the text.
  checkLimit("addedTokensLength", "the total length of the USER_DEFINED pieces", userDefined.reduce((total, piece) => total + piece.length, 0));
  const model = new SentencePieceBpeModel({ pieces: proto.pieces, byteFallback: trainerSpec.byteFallback });
  const reserved = new Map<string, ReservedPieceKind>();
  for (const { piece, type } of proto.pieces) {
    if (type === PieceType.CONTROL) reserved.set(piece, "control");
    else if (type === PieceType.UNKNOWN) reserved.set(piece, "unknown");
    else if (type === PieceType.BYTE) reserved.set(piece, "byte");
  }
  return new Tokenizer({
    model,
    normalizer: new SentencePieceNormalizer({
      charsmap: readCharsmap(normalizerSpec),
      userDefinedSymbols: userDefined.length > 0 ? PrefixMatcher.forUtf8(userDefined) : undefined,
      addDummyPrefix: normalizerSpec.addDummyPrefix,
      removeExtraWhitespaces: normalizerSpec.removeExtraWhitespaces,
      escapeWhitespaces: normalizerSpec.escapeWhitespaces,
      treatWhitespaceAsSuffix: trainerSpec.treatWhitespaceAsSuffix,
    }),
    postProcessor: readPostProcessor(model, trainerSpec, options),
    decoder: new SentencePieceDecoder({
      reserved,
      unkSurface: trainerSpec.unkSurface,
      addDummyPrefix: normalizerSpec.addDummyPrefix,
      removeExtraWhitespaces: normalizerSpec.removeExtraWhitespaces,
      // SentencePieceProcessor::Load uses a denormalizer only when it has rules.
      denormalizer:
        denormalizerSpec && denormalizerSpec.precompiledCharsmap.length > 0
          ? new SentencePieceNormalizer({
              charsmap: readCharsmap(denormalizerSpec),
              userDefinedSymbols: undefined,
              addDummyPrefix: denormalizerSpec.addDummyPrefix,
              removeExtraWhitespaces: denormalizerSpec.removeExtraWhitespaces,
              escapeWhitespaces: denormalizerSpec.escapeWhitespaces,
              treatWhitespaceAsSuffix: false,
            })
          : undefined,
    }),
    specialTokens: {
      unk: trainerSpec.unkPiece,
      bos: trainerSpec.bosPiece,
      eos: trainerSpec.eosPiece,
      pad: trainerSpec.padPiece,
    },
  });
}

function readCharsmap(spec: NormalizerSpec): PrecompiledCharsmap | undefined {
  return spec.precompiledCharsmap.length > 0 ? new PrecompiledCharsmap(spec.precompiledCharsmap) : undefined;
}

function readPostProcessor(model: SentencePieceBpeModel, spec: TrainerSpec, options: SentencePieceLoadOptions): PostProcessor | undefined {
  if (!options.addBos && !options.addEos) return undefined;
  const idOf = (piece: string, option: string): number => {
    const id = model.tokenToId(piece);
    if (id === undefined) throw new MalformedTokenizerFileError("ModelProto.trainer_spec", `${option} is set but '${piece}' is not in the vocabulary`);
    return id;
  };
  return new TemplatePostProcessor([
    ...(options.addBos ? [{ kind: "special" as const, ids: [idOf(spec.bosPiece, "addBos")] }] : []),
    { kind: "sequence" as const },
    ...(options.addEos ? [{ kind: "special" as const, ids: [idOf(spec.eosPiece, "addEos")] }] : []),
  ]);
}

/** Parses a serialized ModelProto. Fields gemma-ts has no use for are skipped. */
export function parseSentencePieceModel(bytes: Uint8Array): SentencePieceModelProto {
  const reader = new ProtobufReader(bytes, "ModelProto");
  const pieces: SentencePieceEntry[] = [];
  let trainerSpec: TrainerSpec | undefined;
  let normalizerSpec: NormalizerSpec | undefined;
  let denormalizerSpec: NormalizerSpec | undefined;
  for (let field = reader.nextField(); field; field = reader.nextField()) {
    switch (field.number) {
      case 1:
        reader.expect(field, WIRE_LENGTH_DELIMITED, "pieces");
        if (pieces.length === TOKENIZER_LIMITS.vocabSize.max) checkLimit("vocabSize", `the number of ModelProto.pieces (at byte ${field.offset})`, pieces.length + 1);
        pieces.push(readPiece(reader.message(`ModelProto.pieces[${pieces.length}]`)));
        break;
      case 2:
        reader.expect(field, WIRE_LENGTH_DELIMITED, "trainer_spec");
        trainerSpec = readTrainerSpec(reader.message("ModelProto.trainer_spec"), trainerSpec);
        break;
      case 3:
        reader.expect(field, WIRE_LENGTH_DELIMITED, "normalizer_spec");
        normalizerSpec = readNormalizerSpec(reader.message("ModelProto.normalizer_spec"), normalizerSpec);
        break;
      case 5:
        reader.expect(field, WIRE_LENGTH_DELIMITED, "denormalizer_spec");
        denormalizerSpec = readNormalizerSpec(reader.message("ModelProto.denormalizer_spec"), denormalizerSpec);
        break;
      default:
        reader.skip(field);
    }
  }
  // Every model spm_train writes has all three; a file without them is truncated or not a model.
  if (pieces.length === 0) throw new MalformedTokenizerFileError("ModelProto.pieces", "no pieces; not a SentencePiece model, or a truncated one");
  if (!trainerSpec) throw new MalformedTokenizerFileError("ModelProto.trainer_spec", "missing; is the file truncated?");
  if (!normalizerSpec) throw new MalformedTokenizerFileError("ModelProto.normalizer_spec", "missing; is the file truncated?");
  return { pieces, trainerSpec, normalizerSpec, denormalizerSpec };
}

function readPiece(reader: ProtobufReader): SentencePieceEntry {
  let piece = "";
  let score = 0;
  let type: number = PieceType.NORMAL;
  let typeOffset = 0;
  for (let field = reader.nextField(); field; field = reader.nextField()) {
    if (field.number === 1) {
      reader.expect(field, WIRE_LENGTH_DELIMITED, "piece");
      piece = limitedString(reader, "piece", "tokenLength");
    } else if (field.number === 2) {
      reader.expect(field, WIRE_FIXED32, "score");
      score = reader.float();
    } else if (field.number === 3) {
      reader.expect(field, WIRE_VARINT, "type");
      typeOffset = field.offset;
      type = reader.int32();
    } else {
      reader.skip(field);
    }
  }
  if (type < PieceType.NORMAL || type > PieceType.BYTE) reader.fail(typeOffset, `unknown piece type ${type}`);
  return { piece, score, type: type as PieceType };
}

function readTrainerSpec(reader: ProtobufReader, previous: TrainerSpec | undefined): TrainerSpec {
  // A message field that occurs twice is merged, as protobuf does.
  const spec: TrainerSpec = previous ?? {
    modelType: 1,
    vocabSize: 8000,
    byteFallback: false,
    splitDigits: false,
    treatWhitespaceAsSuffix: false,
    allowWhitespaceOnlyPieces: false,
    userDefinedSymbols: [],
    controlSymbols: [],
    unkId: 0,
    bosId: 1,
    eosId: 2,
    padId: -1,
    unkPiece: "<unk>",
    bosPiece: "<s>",
    eosPiece: "</s>",
    padPiece: "<pad>",
    unkSurface: " \u2047 ",
  };
  for (let field = reader.nextField(); field; field = reader.nextField()) {
    const varint = (name: string): void => reader.expect(field, WIRE_VARINT, name);
    const text = (name: string, limit: TokenizerLimitName = "tokenLength"): string => {
      reader.expect(field, WIRE_LENGTH_DELIMITED, name);
      return limitedString(reader, name, limit);
    };
    const symbol = (list: string[], name: string): void => {
      checkLimit("vocabSize", `the number of ${reader.path}.${name}`, list.length + 1);
      list.push(text(name));
    };
    switch (field.number) {
      case 3:
        varint("model_type");
        spec.modelType = reader.int32();
        break;
      case 4:
        varint("vocab_size");
        spec.vocabSize = reader.int32();
        break;
      case 24:
        varint("treat_whitespace_as_suffix");
        spec.treatWhitespaceAsSuffix = reader.bool();
        break;
      case 25:
        varint("split_digits");
        spec.splitDigits = reader.bool();
        break;
      case 26:
        varint("allow_whitespace_only_pieces");
        spec.allowWhitespaceOnlyPieces = reader.bool();
        break;
      case 30:
        symbol(spec.controlSymbols, "control_symbols");
        break;
      case 31:
        symbol(spec.userDefinedSymbols, "user_defined_symbols");
        break;
      case 35:
        varint("byte_fallback");
        spec.byteFallback = reader.bool();
        break;
      case 40:
        varint("unk_id");
        spec.unkId = reader.int32();
        break;
      case 41:
        varint("bos_id");
        spec.bosId = reader.int32();
        break;
      case 42:
        varint("eos_id");
        spec.eosId = reader.int32();
        break;
      case 43:
        varint("pad_id");
        spec.padId = reader.int32();
        break;
      case 44:
        spec.unkSurface = text("unk_surface", "componentStringLength");
        break;
      case 45:
        spec.unkPiece = text("unk_piece");
        break;
      case 46:
        spec.bosPiece = text("bos_piece");
        break;
      case 47:
        spec.eosPiece = text("eos_piece");
        break;
      case 48:
        spec.padPiece = text("pad_piece");
        break;
      default:
        reader.skip(field);
    }
  }
  return spec;
}

function readNormalizerSpec(reader: ProtobufReader, previous: NormalizerSpec | undefined): NormalizerSpec {
  const spec: NormalizerSpec = previous ?? {
    name: "",
    precompiledCharsmap: new Uint8Array(0),
    addDummyPrefix: true,
    removeExtraWhitespaces: true,
    escapeWhitespaces: true,
  };
  for (let field: ProtoField | undefined = reader.nextField(); field; field = reader.nextField()) {
    switch (field.number) {
      case 1:
        reader.expect(field, WIRE_LENGTH_DELIMITED, "name");
        spec.name = limitedString(reader, "name", "componentStringLength");
        break;
      case 2:
        reader.expect(field, WIRE_LENGTH_DELIMITED, "precompiled_charsmap");
        spec.precompiledCharsmap = reader.bytesField();
        break;
      case 3:
        reader.expect(field, WIRE_VARINT, "add_dummy_prefix");
        spec.addDummyPrefix = reader.bool();
        break;
      case 4:
        reader.expect(field, WIRE_VARINT, "remove_extra_whitespaces");
        spec.removeExtraWhitespaces = reader.bool();
        break;
      case 5:
        reader.expect(field, WIRE_VARINT, "escape_whitespaces");
        spec.escapeWhitespaces = reader.bool();
        break;
      default:
        reader.skip(field);
    }
  }
  return spec;
}

function limitedString(reader: ProtobufReader, name: string, limit: TokenizerLimitName): string {
  const value = reader.string();
  checkLimit(limit, `the length of ${reader.path}.${name}`, value.length);
  return value;
}
