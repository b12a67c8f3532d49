// @gemma-ts/tokenizer: Gemma's SentencePiece-style BPE tokenizer. Exact, id for id, against
// Hugging Face's tokenizers on Gemma's tokenizer.json; also loads SentencePiece .model files and
// trains new vocabularies. No dependencies and no Node imports here: file loading is in "./node".
export { Tokenizer } from "./tokenizer.js";
export type { DecodeOptions, EncodeOptions, Encoding, SpecialTokenIds, TokenizerParts } from "./tokenizer.js";
export type { Decoder, Normalizer, PostProcessor, TokenizerModel } from "./components.js";
export type { AddedToken } from "./added-vocabulary.js";
export { BpeModel, type BpeModelOptions } from "./models/bpe.js";
export { tokenizerFromJson } from "./formats/tokenizer-json.js";
export { tokenizerFromSentencePiece, type SentencePieceLoadOptions } from "./formats/sentencepiece-model.js";
export { trainBpe, type TrainBpeResult, type TrainBpeStats } from "./trainer/bpe-trainer.js";
export { GEMMA_SPECIAL_TOKENS, type TrainBpeOptions, type TrainBpeProgress } from "./trainer/options.js";
export type { TokenizerJson } from "./trainer/tokenizer-json-writer.js";
export { TOKENIZER_LIMITS, type TokenizerLimit, type TokenizerLimitName } from "./limits.js";
export { renderGemmaChat, type ChatMessage, type ChatRole, type ChatTemplateOptions } from "./chat-template.js";
export {
  ChatTemplateError,
  InvalidArgumentError,
  MalformedTokenizerFileError,
  TokenizerError,
  TokenizerLimitError,
  UnsupportedComponentError,
  type TokenizerErrorCode,
} from "./errors.js";
