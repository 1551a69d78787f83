/**
 * The exported network run by ONNX Runtime (`onnxruntime-node`, an optional dependency whose npm
 * package carries its x64 CPU library), as a synchronous eps_theta for the sampler.
 *
 * Why the native binding and not `InferenceSession`: the package's `InferenceSession.run` only
 * wraps the binding's synchronous `run` in a promise (onnxruntime-node 1.30 dist/backend.js), and
 * the sampler, the NLL and the public `sample` API are synchronous. The binding is the package's
 * own; the version is pinned and `loadOrt` falls back to tfjs when its shape is not as expected.
 */
import { availableParallelism } from 'node:os';
import * as tf from '@tensorflow/tfjs';
import { createRequire } from 'node:module';
import type { EdmConfig } from '../config.js';
import { bondClasses, featureDim } from '../config.js';
import type { Params } from '../egnn/params.js';
import type { MolGraph } from '../graph/graph.js';
import type { StateTensors } from '../diffusion/model.js';
import { exportDynamics } from './export.js';

/** The parts of onnxruntime-node this module uses. */
export interface OrtBinding {
  Tensor: new (type: 'float32', data: Float32Array, dims: number[]) => { data: unknown };
  /** the native session class of dist/binding.js */
  NativeSession: new () => {
    loadModel(buffer: ArrayBufferLike, offset: number, length: number, options: object): void;
    run(feeds: Record<string, unknown>, fetches: Record<string, null>, options: object): Record<string, { data: Float32Array }>;
    dispose(): void;
  };
}

const requireOptional = createRequire(import.meta.url);
let ort: OrtBinding | null | undefined;

/** onnxruntime-node's tensor class and native session, if they load here; else undefined (never throws). */
export function loadOrt(): OrtBinding | undefined {
  if (ort === undefined) {
    try {
      const pkg = requireOptional('onnxruntime-node');
      const native = requireOptional('onnxruntime-node/dist/binding.js');
      native.initOrt();
      ort = typeof native.binding?.InferenceSession === 'function' ? { Tensor: pkg.Tensor, NativeSession: native.binding.InferenceSession } : null;
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

/** A native session of the binding. */
export type NativeSession = InstanceType<OrtBinding['NativeSession']>;

/** onnxruntime-node, or an Error saying it is not installed. */
export function requireOrt(): OrtBinding {
  const lib = loadOrt();
  if (!lib) throw new Error('onnxruntime-node is not installed');
  return lib;
}

/**
 * Open a session on ONNX bytes: `threads` intra-op threads, sequential execution, all graph
 * optimisations. @throws Error when ONNX Runtime rejects the graph
 */
export function openSession(lib: OrtBinding, bytes: Uint8Array, threads: number): NativeSession {
  const session = new lib.NativeSession();
  session.loadModel(bytes.buffer, bytes.byteOffset, bytes.byteLength, {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  return session;
}

/**
 * The network's input tensors (export.ts names) from host arrays.
 * @throws Error when an input's length does not match B, N, D (and C), or a needed context is absent
 */
export function dynamicsFeeds(lib: OrtBinding, input: OnnxDynamicsInput, D: number, contextNf: number): Record<string, unknown> {
  const { B, N } = input;
  const T = lib.Tensor;
  const check = (name: string, a: ArrayLike<number>, n: number): void => {
    if (a.length !== n) throw new Error(`ONNX dynamics: ${name} has ${a.length} values, expected ${n}`);
  };
  check('xh', input.xh, B * N * D);
  check('node_mask', input.nodeMask, B * N);
  check('edge_mask', input.edgeMask, B * N * N);
  check('denoise_mask', input.denoiseMask, B * N);
  const feeds: Record<string, unknown> = {
    xh: new T('float32', input.xh, [B, N, D]),
    t: new T('float32', Float32Array.from(input.t), [B, 1]),
    node_mask: new T('float32', input.nodeMask, [B, N, 1]),
    edge_mask: new T('float32', input.edgeMask, [B, N, N, 1]),
    denoise_mask: new T('float32', input.denoiseMask, [B, N, 1]),
  };
  if (contextNf > 0) {
    if (!input.context) throw new Error('ONNX dynamics: the model needs a context input');
    check('context', input.context, B * N * contextNf);
    feeds.context = new T('float32', input.context, [B, N, contextNf]);
  }
  return feeds;
}

/** Intra-op threads of a session unless told: one per core. */
export const defaultOrtThreads = (): number => availableParallelism();

/** One model's network in an ONNX Runtime session. */
export class OnnxDynamics {
  private readonly masks = new WeakMap<MolGraph, { nodeMask: Float32Array; edgeMask: Float32Array; denoiseMask: Float32Array; context?: Float32Array }>();

  private constructor(
    private readonly lib: OrtBinding,
    private readonly session: NativeSession,
    readonly D: number,
    readonly contextNf: number,
    readonly threads: number,
    /** bond classes of a bond-aware network (0: EDM's) */
    readonly K = 0,
  ) {}

  /**
   * Export a network and open a session.
   * @param threads intra-op threads (default one per core); results are reproducible for a thread count
   * @param centred remove the centre of mass of the position output (unconditional models)
   * @throws Error when onnxruntime-node is not installed or rejects the graph
   */
  static create(config: EdmConfig, params: Params, opts: { threads?: number; centred?: boolean } = {}): OnnxDynamics {
    const lib = requireOrt();
    const D = 3 + featureDim(config);
    const contextNf = config.dynamics.contextNodeNf ?? 0;
    const K = bondClasses(config);
    const bytes = exportDynamics(params, config.dynamics, { D, contextNf, centred: opts.centred ?? true, bondNf: K });
    const threads = opts.threads ?? defaultOrtThreads();
    return new OnnxDynamics(lib, openSession(lib, bytes, threads), D, contextNf, threads, K);
  }

  /**
   * eps_theta for one batch on host arrays: the atoms', and a bond-aware network's bonds'.
   * @param bonds a bond-aware network's noisy bonds `[B, N, N, K]` row-major (required then)
   * @returns eps `[B, N, D]` row-major, and epsBonds `[B, N, N, K]` for a bond-aware network
   * @throws Error when an input's length does not match B, N, D (K), or the bonds are missing
   */
  run(input: OnnxDynamicsInput, bonds?: Float32Array): { eps: Float32Array; epsBonds?: Float32Array } {
    const feeds = dynamicsFeeds(this.lib, input, this.D, this.contextNf);
    if (this.K === 0) return { eps: this.session.run(feeds, { eps: null }, {}).eps.data };
    const { B, N } = input;
    if (!bonds || bonds.length !== B * N * N * this.K) throw new Error(`ONNX dynamics: a bond-aware network needs the bonds [${B}, ${N}, ${N}, ${this.K}]${bonds ? `, got ${bonds.length} values` : ''}`);
    feeds.bonds = new this.lib.Tensor('float32', bonds, [B, N, N, this.K]);
    const out = this.session.run(feeds, { eps: null, eps_bonds: null }, {});
    return { eps: out.eps.data, epsBonds: out.eps_bonds.data };
  }

  /** The graph's masks on the host, copied once per graph. */
  private hostMasks(graph: MolGraph): { nodeMask: Float32Array; edgeMask: Float32Array; denoiseMask: Float32Array; context?: Float32Array } {
    let m = this.masks.get(graph);
    if (!m) {
      m = {
        nodeMask: graph.nodeMask.dataSync() as Float32Array,
        edgeMask: graph.edgeMask.dataSync() as Float32Array,
        denoiseMask: graph.denoiseMask.dataSync() as Float32Array,
        context: graph.context?.dataSync() as Float32Array | undefined,
      };
      this.masks.set(graph, m);
    }
    return m;
  }

  /**
   * eps_theta of a state on tfjs tensors, for `phiState`: z_t's atoms `[B, N, D]` (and bonds
   * `[B, N, N, K]`), t per molecule, the graph's masks (copied to the host once per graph).
   */
  epsState(z: StateTensors, t: ArrayLike<number>, graph: MolGraph): StateTensors {
    const [B, N] = z.atoms.shape as number[];
    const out = this.run({ xh: z.atoms.dataSync() as Float32Array, t, B, N, ...this.hostMasks(graph) }, z.bonds?.dataSync() as Float32Array | undefined);
    return { atoms: tf.tensor3d(out.eps, [B, N, this.D]), ...(out.epsBonds ? { bonds: tf.tensor4d(out.epsBonds, [B, N, N, this.K]) } : {}) };
  }

  /** Free the session. */
  close(): void {
    this.session.dispose();
  }
}

/**
 * The network of a model for `EdmModel.inference`: one ONNX Runtime session per output form
 * (centred for plain sampling, uncentred for graphs with fixed atoms), made when first needed.
 */
export class OnnxInference {
  private readonly sessions = new Map<boolean, OnnxDynamics>();

  constructor(
    private readonly config: EdmConfig,
    private readonly params: Params,
    readonly threads = defaultOrtThreads(),
  ) {}

  epsState(z: StateTensors, t: ArrayLike<number>, graph: MolGraph): StateTensors {
    return this.session(graph).epsState(z, t, graph);
  }

  private session(graph: MolGraph): OnnxDynamics {
    let s = this.sessions.get(graph.centred);
    if (!s) {
      s = OnnxDynamics.create(this.config, this.params, { threads: this.threads, centred: graph.centred });
      this.sessions.set(graph.centred, s);
    }
    return s;
  }

  /** Free the sessions. */
  close(): void {
    for (const s of this.sessions.values()) s.close();
    this.sessions.clear();
  }
}
