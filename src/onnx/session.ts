/**
 * The exported network run by ONNX Runtime (`onnxruntime-node`, an optional dependency whose npm
 * package carries its x64 CPU library). ONNX Runtime's `run` is asynchronous, so this is an
 * async eps_theta; tfjs stays the fallback when the package is absent.
 */
import { createRequire } from 'node:module';
import type { EdmModel } from '../diffusion/model.js';
import { featureDim } from '../config.js';
import { exportDynamics } from './export.js';

type Ort = typeof import('onnxruntime-node');
const requireOptional = createRequire(import.meta.url);
let ort: Ort | null | undefined;

/** onnxruntime-node if it loads here, else undefined (never throws). */
export function loadOrt(): Ort | undefined {
  if (ort === undefined) {
    try {
      ort = requireOptional('onnxruntime-node') as Ort;
    } catch {
      ort = null;
    }
  }
  return ort ?? undefined;
}

/** Host inputs of one evaluation; shapes as in export.ts. */
export interface OnnxDynamicsInput {
  /** `[B, N, D]` */
  xh: Float32Array;
  /** `[B]` times in [0, 1] */
  t: ArrayLike<number>;
  /** `[B, N]` 1 for real atoms */
  nodeMask: Float32Array;
  /** `[B, N, N]` 1 for edges i != j between real atoms */
  edgeMask: Float32Array;
  /** `[B, N]` 1 for atoms being denoised (the node mask when nothing is fixed) */
  denoiseMask: Float32Array;
  /** `[B, N, C]` per-node context, when the model has context channels */
  context?: Float32Array;
  B: number;
  N: number;
}

/** One model's network in an ONNX Runtime session. */
export class OnnxDynamics {
  private constructor(
    private readonly ort: Ort,
    private readonly session: import('onnxruntime-node').InferenceSession,
    readonly D: number,
    readonly contextNf: number,
  ) {}

  /**
   * Export `model`'s network and open a session.
   * @param threads intra-op threads (default 2)
   * @param centred remove the centre of mass of the position output (unconditional models)
   * @throws Error when onnxruntime-node is not installed or rejects the graph
   */
  static async create(model: EdmModel, opts: { threads?: number; centred?: boolean } = {}): Promise<OnnxDynamics> {
    const lib = loadOrt();
    if (!lib) throw new Error('onnxruntime-node is not installed');
    const D = 3 + featureDim(model.config);
    const contextNf = model.config.dynamics.contextNodeNf ?? 0;
    const bytes = exportDynamics(model.params, model.config.dynamics, { D, contextNf, centred: opts.centred ?? true });
    const session = await lib.InferenceSession.create(bytes, {
      intraOpNumThreads: opts.threads ?? 2,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
    });
    return new OnnxDynamics(lib, session, D, contextNf);
  }

  /**
   * eps_theta for one batch.
   * @returns `[B, N, D]` row-major
   * @throws Error when an input's length does not match B, N, D
   */
  async run(input: OnnxDynamicsInput): Promise<Float32Array> {
    const { B, N } = input;
    const T = this.ort.Tensor;
    const check = (name: string, a: ArrayLike<number>, n: number): void => {
      if (a.length !== n) throw new Error(`ONNX dynamics: ${name} has ${a.length} values, expected ${n}`);
    };
    check('xh', input.xh, B * N * this.D);
    check('node_mask', input.nodeMask, B * N);
    check('edge_mask', input.edgeMask, B * N * N);
    check('denoise_mask', input.denoiseMask, B * N);
    const feeds: Record<string, import('onnxruntime-node').Tensor> = {
      xh: new T('float32', input.xh, [B, N, this.D]),
      t: new T('float32', Float32Array.from(input.t), [B, 1]),
      node_mask: new T('float32', input.nodeMask, [B, N, 1]),
      edge_mask: new T('float32', input.edgeMask, [B, N, N, 1]),
      denoise_mask: new T('float32', input.denoiseMask, [B, N, 1]),
    };
    if (this.contextNf > 0) {
      if (!input.context) throw new Error('ONNX dynamics: the model needs a context input');
      check('context', input.context, B * N * this.contextNf);
      feeds.context = new T('float32', input.context, [B, N, this.contextNf]);
    }
    const out = await this.session.run(feeds);
    return out.eps.data as Float32Array;
  }

  /** Free the session. */
  async close(): Promise<void> {
    await this.session.release();
  }
}
