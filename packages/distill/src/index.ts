// @gemma-ts/distill: knowledge distillation for gemma-ts. A teacher (a local Gemma 2 checkpoint, or
// anything implementing Teacher) is run once over the data package's token shards into a teacher
// store: per token, k sparse next-token entries (top-k or sampled) and the residual mass, in
// checksummed chunk files, resumable; read back by document range, or as the teacher inputs of
// core's sparseDistillation objective for a BatchSource batch. Node only.
export type { SparseMode, SparseRequest, SparseScores, Teacher, TeacherRow, Vocabulary } from "./teacher.js";
export { checkSparseRequest, emptyScores, Sparsifier } from "./sparsify.js";
export { positionRandom } from "./position-random.js";
export { LocalTeacher, modelFingerprint, onnxFolderFingerprint, type LocalTeacherFolderOptions, type LocalTeacherOptions } from "./local-teacher.js";
export { OpenAITeacher, probeIds, type OpenAITeacherOptions, type PromptScoring } from "./openai-teacher.js";
export { backoffDelay, DEFAULT_RETRY_POLICY, retryableStatus, type RetryPolicy } from "./retry.js";
export { checkVocabulary, shardsFingerprint } from "./vocabulary.js";
export { planCalls, planWindows, type Window } from "./windows.js";
export {
  bytesPerPosition,
  chunkFileName,
  DOCUMENTS_FILE,
  STORE_FORMAT,
  STORE_FORMAT_VERSION,
  STORE_INDEX_FILE,
  STORE_SETTINGS_FILE,
  type ChunkEntry,
  type IdDtype,
  type StoreSettings,
  type TeacherStoreIndex,
  type ValueDtype,
} from "./store-format.js";
export type { DecodedPositions } from "./chunk-codec.js";
export { storeSettings, writeTeacherStore, type WriteTeacherStoreOptions, type WriteTeacherStoreProgress } from "./write-store.js";
export { openTeacherStore, TeacherStore, type OpenTeacherStoreOptions, type StorePositions } from "./teacher-store.js";
export { dumpTeacherStore, type DumpRecord, type DumpTeacherStoreOptions } from "./dump.js";
export { batchSegments, type Segment } from "./batch-layout.js";
export { TeacherBatches, type TeacherBatch, type TeacherBatchesOptions } from "./teacher-batches.js";
export { DEFAULT_STORE_SELECTION, ENDPOINT_STORE_SELECTION, storeSelectionFromFlags, type StoreFlags, type StoreSelection } from "./store-flags.js";
export {
  BatchMisalignedError,
  ChecksumMismatchError,
  DistillError,
  InvalidArgumentError,
  MalformedStoreError,
  StoreMismatchError,
  TeacherAuthError,
  TeacherRequestError,
  TeacherResponseError,
  TruncatedChunkError,
  VocabularyMismatchError,
  type DistillErrorCode,
} from "./errors.js";
export {
  distillOnPolicy,
  OnPolicyDistiller,
  type OnPolicyExample,
  type OnPolicyOptions,
  type OnPolicyRunOptions,
  type OnPolicySampler,
  type OnPolicyState,
  type OnPolicyStepRecord,
} from "./on-policy.js";
export { onPolicyBatch, type OnPolicyBatchOptions } from "./on-policy-batch.js";
