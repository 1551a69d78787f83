/**
 * Shard gradients computed by ONNX Runtime in this thread (`edm train --backend onnx`): the
 * exported training step (onnx/train-export.ts) runs each shard on `threads` intra-op threads.
 * z_t, the target noise and the masks are made on the host by the same code as tfjs training
 * (diffusion/loss.ts lossInputs), so both engines optimise the same objective.
 */
import * as tf from '@tensorflow/tfjs';
import type { EdmConfig } from '../config.js';
import { featureDim } from '../config.js';
import { disposeBatch } from '../data/batch.js';
import { makeTrainingBatch } from '../data/examples.js';
import { bondDenominator, lossInputs } from '../diffusion/loss.js';
import { makeModel, type EdmModel } from '../diffusion/model.js';
import { OnnxTrainingStep, type TrainingStepInput } from '../onnx/train-session.js';
import type { GradientEngine } from './grad-pool.js';
import { type ShardResult, type ShardTask, joinFlat, splitFlat } from './gradients.js';

/** Gradients on ONNX Runtime (one session per output form, made when first needed). */
export class OnnxGradients implements GradientEngine {
  readonly workers = 0;
  private readonly sessions = new Map<boolean, OnnxTrainingStep>();
  private readonly model: EdmModel;

  /**
   * @param order parameter order of flat weight and gradient vectors (gradients.ts paramOrder)
   * @param shapes parameter shapes by name
   * @param threads intra-op threads; a run's gradients depend on nothing else of the machine
   */
  constructor(
    private readonly config: EdmConfig,
    private readonly order: string[],
    private readonly shapes: Record<string, number[]>,
    readonly threads: number,
  ) {
    // only the config and schedule are read (to noise the data); the weights live in the session feeds
    this.model = makeModel(config, {});
  }

  async compute(weights: Float32Array, tasks: ShardTask[], denomN: number): Promise<ShardResult[]> {
    // views: ONNX Runtime reads a typed array at its offset
    const byName = splitFlat(weights, this.order, (k) => this.shapes[k].reduce((a, b) => a * b, 1));
    return tasks.map((task) => this.shard(byName, task, denomN));
  }

  private shard(weights: Record<string, Float32Array>, task: ShardTask, denomN: number): ShardResult {
    const batch = makeTrainingBatch(this.config, task.examples);
    try {
      const B = batch.nNodes.length;
      const N = batch.graph.hostNodeMask.length / B;
      const D = 3 + featureDim(this.config);
      // built inside the scope and handed out by assignment: tf.tidy walks every element of a
      // returned typed array (1/3 of a bond model's step time when z_t's bonds were returned)
      let input!: TrainingStepInput;
      tf.tidy(() => {
        const li = lossInputs(this.model, batch, task.noise);
        const lossWeight = tf.div(tf.reshape(li.channelWeight, [B, D]), B * D * denomN).dataSync() as Float32Array;
        const g = batch.graph;
        const K = li.bonds?.eps.shape[3] ?? 0;
        const bonds = li.bonds && {
          zt: li.bonds.zt.dataSync() as Float32Array,
          eps: li.bonds.eps.dataSync() as Float32Array,
          lossWeight: tf.div(tf.reshape(li.bonds.weight, [B, K]), B * bondDenominator(K, denomN)).dataSync() as Float32Array,
        };
        input = {
          ...(bonds ? { bonds } : {}),
          xh: li.zt.dataSync() as Float32Array,
          eps: li.eps.dataSync() as Float32Array,
          t: li.t,
          lossWeight,
          nodeMask: g.nodeMask.dataSync() as Float32Array,
          edgeMask: g.edgeMask.dataSync() as Float32Array,
          denoiseMask: g.denoiseMask.dataSync() as Float32Array,
          context: g.context?.dataSync() as Float32Array | undefined,
          B,
          N,
        };
      });
      let session = this.sessions.get(batch.graph.centred);
      if (!session) {
        session = OnnxTrainingStep.create(this.config, { threads: this.threads, centred: batch.graph.centred });
        this.sessions.set(batch.graph.centred, session);
      }
      const { loss, grads } = session.run(weights, input);
      return { index: task.index, loss, grad: joinFlat(grads, this.order) };
    } finally {
      disposeBatch(batch);
    }
  }

  async close(): Promise<void> {
    for (const s of this.sessions.values()) s.close();
    this.sessions.clear();
  }
}
