/**
 * EDM's `egnn_dynamics` noise predictor (Hoogeboom et al. 2022; Satorras et al. 2021), dense.
 *
 * Reference: egnn/models.py EGNN_dynamics_QM9._forward and egnn/egnn_new.py (EGNN,
 * EquivariantBlock, GCL, EquivariantUpdate) at commit fce07d7. Edges are all ordered pairs of
 * real atoms (i != j); tensors stay dense `[B, N, N, H]` with an edge mask instead of edge lists.
 * The first layer of each edge MLP is linear in [h_i, h_j, d_ij^2, d0_ij^2], so it is applied
 * to nodes and broadcast to pairs: `[B, N, H]` matmuls instead of `[B, N, N, 2H + 2]` ones.
 */
import * as tf from '@tensorflow/tfjs';
import type { DynamicsConfig } from '../config.js';
import { linear, silu } from './linear.js';
import { coordDiff, removeMeanWithMask } from './geometry.js';
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
   * no gradient will be taken: each block's intermediates are freed when the block ends, so the
   * peak memory is one block's `[B, N, N, H]` tensors instead of the whole network's
   */
  inference?: boolean;
}

/**
 * First layer of an edge MLP applied node-wise and broadcast to pairs:
 * W [h_i, h_j, r, r0] + b = (h W_i + b)_i + (h W_j)_j + r w_r + r0 w_r0.
 * @param h `[B, N, H]`, radials `[B, N, N, 2]` = [d_ij^2, d0_ij^2], w `[2H + 2, H]`
 * @returns `[B, N, N, H]`
 */
function edgeFirstLayer(h: tf.Tensor, radials: tf.Tensor, w: tf.Tensor, b: tf.Tensor): tf.Tensor {
  const H = h.shape[2]!;
  const hi = linear(h, tf.slice(w, [0, 0], [H, -1]), b); // [B, N, H]
  const hj = linear(h, tf.slice(w, [H, 0], [H, -1]));
  // the two distance features as a K = 2 matmul: one pass, and a matmul gradient
  const r = linear(radials, tf.slice(w, [2 * H, 0], [2, -1])); // [B, N, N, H]
  return tf.add(tf.add(r, tf.expandDims(hi, 2)), tf.expandDims(hj, 1));
}

/** Invariant graph convolution (egnn_new.GCL): attention-gated messages, residual node MLP. */
function gcl(
  p: Params,
  name: string,
  cfg: DynamicsConfig,
  h: tf.Tensor,
  radials: tf.Tensor,
  nodeMask: tf.Tensor,
  edgeMask: tf.Tensor,
): tf.Tensor {
  const H = h.shape[2]!;
  let m = silu(edgeFirstLayer(h, radials, p[`${name}.edge_mlp.0.weight`], p[`${name}.edge_mlp.0.bias`]));
  m = silu(linear(m, p[`${name}.edge_mlp.2.weight`], p[`${name}.edge_mlp.2.bias`])); // [B, N, N, H]
  // attention gate and edge mask are both [B, N, N, 1]: combine them before touching [.., H]
  const gate = cfg.attention ? tf.mul(tf.sigmoid(linear(m, p[`${name}.att_mlp.0.weight`], p[`${name}.att_mlp.0.bias`])), edgeMask) : edgeMask;
  m = tf.mul(m, gate);
  let agg = tf.sum(m, 2); // sum over neighbours j: [B, N, H]
  if (cfg.normalizationFactor !== 1) agg = tf.div(agg, cfg.normalizationFactor);
  const w0 = p[`${name}.node_mlp.0.weight`];
  const pre = tf.add(linear(h, tf.slice(w0, [0, 0], [H, -1]), p[`${name}.node_mlp.0.bias`]), linear(agg, tf.slice(w0, [H, 0], [H, -1])));
  const upd = linear(silu(pre), p[`${name}.node_mlp.2.weight`], p[`${name}.node_mlp.2.bias`]);
  return tf.mul(tf.add(h, upd), nodeMask);
}

/** Equivariant coordinate update (egnn_new.EquivariantUpdate with tanh). */
function coordUpdate(
  p: Params,
  name: string,
  cfg: DynamicsConfig,
  h: tf.Tensor,
  x: tf.Tensor,
  diff: tf.Tensor,
  radials: tf.Tensor,
  nodeMask: tf.Tensor,
  edgeMask: tf.Tensor,
  moveMask: tf.Tensor,
): tf.Tensor {
  let m = silu(edgeFirstLayer(h, radials, p[`${name}.coord_mlp.0.weight`], p[`${name}.coord_mlp.0.bias`]));
  m = silu(linear(m, p[`${name}.coord_mlp.2.weight`], p[`${name}.coord_mlp.2.bias`]));
  let phi = linear(m, p[`${name}.coord_mlp.4.weight`]); // [B, N, N, 1]
  if (cfg.tanh) phi = tf.mul(tf.tanh(phi), cfg.coordsRange);
  const trans = tf.mul(diff, tf.mul(phi, edgeMask)); // [B, N, N, 3]
  let agg = tf.sum(trans, 2);
  if (cfg.normalizationFactor !== 1) agg = tf.div(agg, cfg.normalizationFactor);
  // fixed context atoms (moveMask 0) keep their coordinates
  if (moveMask !== nodeMask) agg = tf.mul(agg, moveMask);
  return tf.mul(tf.add(x, agg), nodeMask);
}

/**
 * The noise prediction eps_theta(z_t, t) of EDM's `egnn_dynamics`.
 * @param p weights (see params.ts)
 * @param cfg architecture
 * @param input xh `[B, N, 3 + F]`, t `[B, 1]`, graph (masks and context `[B, N, C]`, which is
 *   appended after the time channel as in EGNN_dynamics_QM9._forward)
 * @returns `[B, N, 3 + F]`: the position part (x_final - x), with the centre of mass of the
 *   denoised atoms removed when the graph is centred, then the F predicted feature noises; zero
 *   at padded and fixed atoms.
 *   Not wrapped in `tidy` so gradients can flow; callers own the tidy scope.
 */
export function egnnDynamics(p: Params, cfg: DynamicsConfig, input: DynamicsInput): tf.Tensor {
  const { nodeMask, edgeMask, denoiseMask, context } = input.graph;
  const [B, N, D] = input.xh.shape as number[];
  const xh = tf.mul(input.xh, nodeMask);
  const x0 = tf.slice(xh, [0, 0, 0], [B, N, 3]);
  const hIn = tf.slice(xh, [0, 0, 3], [B, N, D - 3]);
  const tNode = tf.mul(tf.reshape(input.t, [B, 1, 1]), tf.onesLike(tf.slice(hIn, [0, 0, 0], [B, N, 1])));
  const embedIn = [hIn, tNode];
  if (context) embedIn.push(tf.mul(context, nodeMask));
  let h = linear(tf.concat(embedIn, 2), p['embedding.weight'], p['embedding.bias']);
  // d0_ij^2 of the input positions, fed to every layer (EGNN.forward; default norm_constant 1
  // only affects the unused direction there)
  const radial0 = coordDiff(x0, 1).radial;
  let x = x0;
  for (let l = 0; l < cfg.nLayers; l++) {
    const block = (): { h: tf.Tensor; x: tf.Tensor } => {
      const { radial, diff } = coordDiff(x, cfg.normConstant);
      const radials = tf.concat([radial, radial0], 3); // [B, N, N, 2], EquivariantBlock's edge_attr
      let hb = h;
      for (let g = 0; g < cfg.invSublayers; g++) hb = gcl(p, `e_block_${l}.gcl_${g}`, cfg, hb, radials, nodeMask, edgeMask);
      return { x: coordUpdate(p, `e_block_${l}.gcl_equiv`, cfg, hb, x, diff, radials, nodeMask, edgeMask, denoiseMask), h: tf.mul(hb, nodeMask) };
    };
    // the same operations either way; in inference a block's intermediates die with it
    ({ h, x } = input.inference ? tf.tidy(block) : block());
  }
  const hOut = tf.mul(linear(h, p['embedding_out.weight'], p['embedding_out.bias']), denoiseMask);
  const moved = tf.mul(tf.sub(x, x0), denoiseMask);
  const vel = input.graph.centred ? removeMeanWithMask(moved, denoiseMask) : moved;
  // drop the time and context channels appended to the input features
  return tf.concat([vel, tf.slice(hOut, [0, 0, 0], [B, N, D - 3])], 2);
}
