// The teacher of `train --teacher`: a model run beside the student, whose soft-capped logits for
// each training batch are the dense distillation objective's `teacher.logits`. It reads the same
// rows the student does (packed documents included), so each position's teacher distribution has
// exactly the student's context. The whole distribution costs one teacher forward pass per
// micro-batch and a [B, T, V] float tensor, which is what a sparse store avoids.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { Gemma2Model, HostTensor, type TrainBatch } from "@gemma-ts/core";
import { loadHfCheckpoint, OnnxBackend } from "@gemma-ts/core/node";
import { type Batch, tokenizerFingerprint } from "@gemma-ts/data";
import { tokenizerFromJson } from "@gemma-ts/tokenizer";
import { InvalidArgumentError } from "commander";
import { TOKENIZER_FILE } from "./run-folder.js";

export class OnlineTeacher {
  private constructor(private readonly model: Gemma2Model) {}

  /**
   * The teacher folder's model, refused unless its tokenizer is the run's (`fingerprint`, the
   * run's token shards') and its vocabulary the student's.
   */
  static async open(dir: string, student: { fingerprint: string; vocabSize: number }, threads: number | null): Promise<OnlineTeacher> {
    const tokenizerJson = await readFile(join(dir, TOKENIZER_FILE)).catch((error: Error) => {
      throw new InvalidArgumentError(`--teacher ${dir} has no readable ${TOKENIZER_FILE} (${error.message}); the teacher's vocabulary must be compared with the student's`);
    });
    if (tokenizerFingerprint(tokenizerFromJson(tokenizerJson)) !== student.fingerprint) {
      throw new InvalidArgumentError(`--teacher ${dir} has another tokenizer than this run; train with the teacher's (--tokenizer ${join(dir, TOKENIZER_FILE)}, the default with --teacher)`);
    }
    const { config, params } = await loadHfCheckpoint(dir);
    if (config.vocabSize !== student.vocabSize) {
      throw new InvalidArgumentError(`--teacher ${dir} has a vocabulary of ${config.vocabSize} ids, the student ${student.vocabSize}; distillation needs the same ids on both sides`);
    }
    return new OnlineTeacher(new Gemma2Model(config, params, new OnnxBackend(threads === null ? {} : { intraOpThreads: threads })));
  }

  /** The teacher's logits for the batch's input rows (each row's first T ids): `teacher.logits` [B, T, V]. */
  async logits(batch: Batch): Promise<TrainBatch> {
    const { batchSize: B, sequenceLength: T, ids } = batch;
    const rows = Array.from({ length: B }, (_, r) => Array.from(ids.subarray(r * (T + 1), r * (T + 1) + T)));
    return { "teacher.logits": await this.model.forward(rows) };
  }

  /** Zeros in place of the logits: evaluations read the student's log-probs, not the loss. */
  static empty(batch: Batch, vocabSize: number): TrainBatch {
    return { "teacher.logits": HostTensor.float32([batch.batchSize, batch.sequenceLength, vocabSize]) };
  }

  close(): Promise<void> {
    return this.model.dispose();
  }
}
