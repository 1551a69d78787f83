/**
 * A training step's loss and weight gradients computed by ONNX Runtime (train-export.ts), on
 * host arrays: the weights are fed as inputs each call, so the host optimiser owns them.
 */
import type { EdmConfig } from '../config.js';
import { bondClasses, dynamicsInputDim, featureDim } from '../config.js';
import { paramShapes } from '../egnn/params.js';
import { defaultOrtThreads, type NativeSession, type OnnxDynamicsInput, type OrtBinding, dynamicsFeeds, openSession, requireOrt } from './session.js';
import { exportTrainingStep, gradOutput } from './train-export.js';

/** Host inputs of one training step. */
export interface TrainingStepInput extends OnnxDynamicsInput {
  /** `[B, N, D]` the noise eps_theta must predict */
  eps: Float32Array;
  /** `[B, D]` loss weight per molecule and channel (see train-export.ts) */
  lossWeight: Float32Array;
  /**
   * a bond-aware model's bonds: noisy state `zt` and target noise `eps` (`[B, N, N, K]`), and the
   * loss weight `[B, K]` per molecule and channel (w(t) lossWeight / (B bondDenominator))
   */
  bonds?: { zt: Float32Array; eps: Float32Array; lossWeight: Float32Array };
}

/** Loss and d loss / d weight of one step. */
export interface TrainingStepOutput {
  loss: number;
  /** by parameter name, row-major in the parameter's shape */
  grads: Record<string, Float32Array>;
}

/** One model architecture's training step in an ONNX Runtime session. */
export class OnnxTrainingStep {
  private readonly fetches: Record<string, null>;

  private constructor(
    private readonly lib: OrtBinding,
    private readonly session: NativeSession,
    private readonly shapes: Map<string, number[]>,
    readonly D: number,
    readonly contextNf: number,
    readonly threads: number,
    readonly K: number,
  ) {
    this.fetches = { loss: null };
    for (const name of shapes.keys()) this.fetches[gradOutput(name)] = null;
  }

  /**
   * Export the training graph of `config`'s network and open a session.
   * @param threads intra-op threads (default 2)
   * @param centred the position output is centre-of-mass free (unconditional models)
   * @throws Error when onnxruntime-node is not installed or rejects the graph
   */
  static create(config: EdmConfig, opts: { threads?: number; centred?: boolean } = {}): OnnxTrainingStep {
    const lib = requireOrt();
    const D = 3 + featureDim(config);
    const contextNf = config.dynamics.contextNodeNf ?? 0;
    const inNodeNf = dynamicsInputDim(config);
    const K = bondClasses(config);
    const bytes = exportTrainingStep(config.dynamics, inNodeNf, { D, contextNf, centred: opts.centred ?? true, bondNf: K });
    const threads = opts.threads ?? defaultOrtThreads();
    return new OnnxTrainingStep(lib, openSession(lib, bytes, threads), paramShapes(config.dynamics, inNodeNf, K), D, contextNf, threads, K);
  }

  /**
   * Loss and gradients for `weights` (by parameter name, each row-major in its shape).
   * @throws Error when a weight is missing or an input has the wrong length
   */
  run(weights: Record<string, Float32Array>, input: TrainingStepInput): TrainingStepOutput {
    const { B, N } = input;
    const T = this.lib.Tensor;
    const feeds = dynamicsFeeds(this.lib, input, this.D, this.contextNf);
    if (input.eps.length !== B * N * this.D) throw new Error(`ONNX training step: eps has ${input.eps.length} values, expected ${B * N * this.D}`);
    if (input.lossWeight.length !== B * this.D) throw new Error(`ONNX training step: loss_weight has ${input.lossWeight.length} values, expected ${B * this.D}`);
    feeds.eps = new T('float32', input.eps, [B, N, this.D]);
    feeds.loss_weight = new T('float32', input.lossWeight, [B, 1, this.D]);
    if (this.K > 0) {
      const K = this.K;
      const b = input.bonds;
      if (!b || b.zt.length !== B * N * N * K || b.eps.length !== B * N * N * K || b.lossWeight.length !== B * K) throw new Error(`ONNX training step: a bond-aware model needs bonds zt and eps [${B}, ${N}, ${N}, ${K}] and loss weights [${B}, ${K}]`);
      feeds.bonds = new T('float32', b.zt, [B, N, N, K]);
      feeds.eps_bonds = new T('float32', b.eps, [B, N, N, K]);
      feeds.bond_loss_weight = new T('float32', b.lossWeight, [B, 1, 1, K]);
    }
    for (const [name, shape] of this.shapes) {
      const w = weights[name];
      const size = shape.reduce((a, b) => a * b, 1);
      if (!w || w.length !== size) throw new Error(`ONNX training step: weight ${name} ${w ? `has ${w.length} values, expected ${size}` : 'is missing'}`);
      feeds[name] = new T('float32', w, shape);
    }
    const out = this.session.run(feeds, this.fetches, {});
    const grads: Record<string, Float32Array> = {};
    for (const name of this.shapes.keys()) grads[name] = out[gradOutput(name)].data;
    return { loss: out.loss.data[0], grads };
  }

  /** Free the session. */
  close(): void {
    this.session.dispose();
  }
}
