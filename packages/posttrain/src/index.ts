// @gemma-ts/posttrain: the post-training stages of the Gemma 2 recipe and the task family they are
// measured on.
export { drawTask, type Task, type TaskKind, TASK_KINDS, TASK_WORD_COUNT, taskSplit, type TaskSplitOptions, taskWords } from "./tasks/task-family.js";
export { trueReward } from "./tasks/true-reward.js";
export { AveragingError, emaUpdate, linearAverage, liti, slerpTaskVectors, warpMerge } from "./averaging/weight-averaging.js";
export { actionLogprobs, policyGradientBatch, type Rollout, rollout, rlooAdvantages } from "./rlhf/rollout-batch.js";
export { type RewardFunction, type RlooOptions, type RlooState, type RlooStepRecord, RlooTrainer } from "./rlhf/rloo-trainer.js";
export { replyStopTokens, taskChat, taskPromptIds } from "./tasks/task-prompts.js";
export { evaluateTasks, type TaskEvaluation, type TaskEvaluationOptions } from "./evaluation/task-evaluation.js";
export { type PreferencePair, RewardModel, type RewardModelOptions } from "./reward/reward-model.js";
export { type LabelledPair, type PairSamplingOptions, samplePreferencePairs } from "./reward/preference-pairs.js";
export { sftBatch } from "./sft/sft-batch.js";
