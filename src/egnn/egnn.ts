/**
 * EDM's `egnn_dynamics` on tfjs: the network of definition.ts run op by op (net/tfjs-run.ts).
 * Its graph is built once per architecture and input signature.
 */
import * as tf from '@tensorflow/tfjs';
import type { DynamicsConfig } from '../config.js';
import { runGraph } from '../net/tfjs-run.js';
import { type DynamicsGraph, type DynamicsSignature, dynamicsGraph } from './definition.js';
import type { Params } from './params.js';
import type { MolGraph } from '../graph/graph.js';

/** Dense inputs of one network evaluation. */
export interface DynamicsInput {
  /** `[B, N, 3 + F]`: positions then features (one-hot, charge), in normalised units */
  xh: tf.Tensor;
  /** `[B, 1]` (or `[B]`): diffusion time t in [0, 1] per molecule */
  t: tf.Tensor;
  /** masks (node, edge, denoise) and optional per-node context `[B, N, C]` */
  graph: MolGraph;
  /**
   * no gradient will be taken: each intermediate is freed after its last use, so the peak memory
   * is a few `[B, N, N, H]` tensors instead of the whole network's
   */
  inference?: boolean;
}

const graphs = new Map<string, DynamicsGraph>();

/**
 * The op graph of an architecture and signature, built once.
 * @throws Error for an aggregation other than `sum`
 */
export function cachedDynamicsGraph(cfg: DynamicsConfig, sig: DynamicsSignature): DynamicsGraph {
  const key = JSON.stringify([cfg, sig]);
  let g = graphs.get(key);
  if (!g) graphs.set(key, (g = dynamicsGraph(cfg, sig)));
  return g;
}

/**
 * The noise prediction eps_theta(z_t, t) of EDM's `egnn_dynamics` (definition.ts).
 * @param p weights (see params.ts)
 * @param cfg architecture
 * @param input xh `[B, N, 3 + F]`, t `[B, 1]`, graph (masks and context `[B, N, C]`)
 * @returns `[B, N, 3 + F]`: the position part (x_final - x), with the centre of mass of the
 *   denoised atoms removed when the graph is centred, then the F predicted feature noises; zero
 *   at padded and fixed atoms.
 *   Not wrapped in `tidy` so gradients can flow; callers own the tidy scope.
 */
export function egnnDynamics(p: Params, cfg: DynamicsConfig, input: DynamicsInput): tf.Tensor {
  return runDynamics(p, cfg, input)[0];
}

/**
 * The bond-aware network (definition.ts with `bondNf`): eps_theta of the atoms and of the bonds.
 * @param bonds `[B, N, N, K]` the bonds' noisy state z_t (normalised units)
 * @returns eps `[B, N, 3 + F]` as egnnDynamics, epsBonds `[B, N, N, K]` symmetric, zero off the
 *   edge mask. Not wrapped in `tidy`; callers own the tidy scope.
 */
export function egnnDynamicsBonds(p: Params, cfg: DynamicsConfig, input: DynamicsInput, bonds: tf.Tensor): { eps: tf.Tensor; epsBonds: tf.Tensor } {
  const [eps, epsBonds] = runDynamics(p, cfg, input, bonds);
  return { eps, epsBonds };
}

/** The network's graph for this input's signature, fed and run: `[eps]`, or `[eps, epsBonds]` with bonds. */
function runDynamics(p: Params, cfg: DynamicsConfig, input: DynamicsInput, bonds?: tf.Tensor): tf.Tensor[] {
  const { nodeMask, edgeMask, denoiseMask, context } = input.graph;
  const [B, , D] = input.xh.shape as number[];
  const net = cachedDynamicsGraph(cfg, { D, contextNf: context ? context.shape[2]! : 0, centred: input.graph.centred, ...(bonds ? { bondNf: bonds.shape[3]! } : {}) });
  const t = input.t.rank === 2 ? input.t : tf.reshape(input.t, [B, 1]);
  const feeds: Record<string, tf.Tensor> = { xh: input.xh, t, node_mask: nodeMask, edge_mask: edgeMask, denoise_mask: denoiseMask };
  if (context) feeds.context = context;
  if (bonds) feeds.bonds = bonds;
  const out = runGraph(net.g, net.epsBonds ? [net.eps, net.epsBonds] : [net.eps], feeds, p, { inference: input.inference });
  if (t !== input.t && input.inference) t.dispose();
  return out;
}
