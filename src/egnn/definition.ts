/**
 * EDM's `egnn_dynamics` noise predictor (Hoogeboom et al. 2022; Satorras et al. 2021), written
 * once as an op graph (net/ir.ts), and EDM's L2 training loss around it. Everything else is
 * derived from this file: the tfjs execution (egnn.ts), the ONNX forward graph (onnx/export.ts),
 * the training step's backward graph (net/autodiff.ts) and the parameter names and shapes
 * (params.ts).
 *
 * Reference: egnn/models.py EGNN_dynamics_QM9._forward and egnn/egnn_new.py (EGNN,
 * EquivariantBlock, GCL, EquivariantUpdate) at commit fce07d7. Edges are all ordered pairs of
 * real atoms (i != j); tensors stay dense `[B, N, N, H]` with an edge mask instead of edge lists.
 * The first layer of each edge MLP is linear in [h_i, h_j, d_ij^2, d0_ij^2], so it is applied
 * to nodes and broadcast to pairs: `[B, N, H]` matmuls instead of `[B, N, N, 2H + 2]` ones.
 */
import type { DynamicsConfig } from '../config.js';
import { OpGraph, type Value } from '../net/ir.js';

/** What a graph's inputs look like, beyond the architecture. */
export interface DynamicsSignature {
  /** width D of xh: 3 + features */
  D: number;
  /** per-node context channels (0: none) */
  contextNf: number;
  /** remove the centre of mass of the denoised atoms from the position output (MolGraph.centred) */
  centred: boolean;
  /**
   * extra per-edge input channels (input `edge_attr` `[B, N, N, E]`, e.g. bond features), read by
   * every edge MLP beside the two squared distances (0 or absent: EDM's network)
   */
  edgeNf?: number;
  /**
   * bond-order channels K diffused with the atoms (0 or absent: EDM's network): input `bonds`
   * `[B, N, N, K]` (their noisy state, read by every edge MLP after any `edge_attr`), output
   * `eps_bonds` `[B, N, N, K]` from the last layer's edge messages, symmetric in i and j and zero
   * off the edge mask
   */
  bondNf?: number;
}

/** The network as a graph: its inputs by name and its output. */
export interface DynamicsGraph {
  g: OpGraph;
  /** `[B, N, D]` eps_theta(z_t, t) */
  eps: Value;
  /** `[B, N, N, K]` the bonds' predicted noise, when the signature has bond channels */
  epsBonds?: Value;
}

/**
 * Declare every parameter in EDM's order (initialisation draws them in this order): weights
 * `[in, out]`, biases `[out]`, named as EDM's state dict without `dynamics.egnn.`.
 * @param inNodeNf embedding input width F + 1 + C
 * @param edgeNf per-edge input channels beyond the two distances (edge_attr, then bonds)
 * @param bondNf bond channels predicted by the bond head (after EDM's parameters, so EDM's draw order stays)
 */
function declareParams(g: OpGraph, cfg: DynamicsConfig, inNodeNf: number, edgeNf: number, bondNf: number): void {
  const H = cfg.nf;
  const edgeIn = 2 * H + 2 + edgeNf; // [h_i, h_j, d_ij^2, d0_ij^2, edge_attr, bonds]
  const lin = (name: string, i: number, o: number, bias = true): void => {
    g.param(`${name}.weight`, [i, o]);
    if (bias) g.param(`${name}.bias`, [o]);
  };
  lin('embedding', inNodeNf, H);
  lin('embedding_out', H, inNodeNf);
  for (let l = 0; l < cfg.nLayers; l++) {
    for (let s = 0; s < cfg.invSublayers; s++) {
      const p = `e_block_${l}.gcl_${s}`;
      lin(`${p}.edge_mlp.0`, edgeIn, H);
      lin(`${p}.edge_mlp.2`, H, H);
      lin(`${p}.node_mlp.0`, 2 * H, H);
      lin(`${p}.node_mlp.2`, H, H);
      if (cfg.attention) lin(`${p}.att_mlp.0`, H, 1);
    }
    const q = `e_block_${l}.gcl_equiv`;
    lin(`${q}.coord_mlp.0`, edgeIn, H);
    lin(`${q}.coord_mlp.2`, H, H);
    lin(`${q}.coord_mlp.4`, H, 1, false);
  }
  if (bondNf > 0) {
    lin('bond_mlp.0', H, H);
    lin('bond_mlp.2', H, bondNf);
  }
}

/**
 * Every parameter's shape, by name, in declaration order (params.ts reads names and shapes here).
 * @param inNodeNf embedding input width F + 1 + C
 * @param bondNf bond-order channels of a bond-aware network (0: EDM's)
 */
export function dynamicsParamShapes(cfg: DynamicsConfig, inNodeNf: number, bondNf = 0): Map<string, number[]> {
  const g = new OpGraph();
  declareParams(g, cfg, inNodeNf, bondNf, bondNf);
  return new Map([...g.params].map(([name, v]) => [name, v.shape as number[]]));
}

/** The network, op by op, on a graph whose parameters are declared. */
class Dynamics {
  constructor(
    readonly g: OpGraph,
    readonly cfg: DynamicsConfig,
  ) {}

  private p(name: string): Value {
    const v = this.g.params.get(name);
    if (!v) throw new Error(`egnn definition: parameter ${name} is not declared`);
    return v;
  }

  private dense(x: Value, name: string, bias = true): Value {
    return this.g.linear(x, this.p(`${name}.weight`), bias ? this.p(`${name}.bias`) : undefined);
  }

  /** Rows [from, from + rows) of a weight `[in, out]`. */
  private rows(name: string, from: number, rows: number): Value {
    return this.g.slice(this.p(name), 0, from, from + rows);
  }

  /** radial `[B, N, N, 1]` = |x_i - x_j|^2 and diff `[B, N, N, 3]` = (x_i - x_j) / (sqrt(radial + 1e-8) + c) (coord2diff). */
  coordDiff(x: Value, normConstant: number): { radial: Value; diff: Value } {
    const g = this.g;
    const d = g.minus(g.unsqueeze(x, 2), g.unsqueeze(x, 1));
    const radial = g.sum(g.times(d, d), [-1], true);
    const norm = g.sqrt(g.plus(radial, g.scalar(1e-8)));
    return { radial, diff: g.over(d, g.plus(norm, g.scalar(normConstant))) };
  }

  /**
   * First edge-MLP layer applied node-wise and broadcast to pairs: (h W_i + b)_i + (h W_j)_j + r W_r,
   * r the edge features `[B, N, N, 2 + E]` (two squared distances, then any edge inputs).
   */
  edgeFirstLayer(h: Value, radials: Value, layer: string): Value {
    const g = this.g;
    const H = this.cfg.nf;
    const w = `${layer}.weight`;
    const hi = g.linear(h, this.rows(w, 0, H), this.p(`${layer}.bias`));
    const hj = g.linear(h, this.rows(w, H, H));
    // the edge features as one small-K matmul
    const r = g.linear(radials, this.rows(w, 2 * H, radials.shape[3] as number));
    return g.plus(g.plus(r, g.unsqueeze(hi, 2)), g.unsqueeze(hj, 1));
  }

  edgeMlp(h: Value, radials: Value, prefix: string): Value {
    const a1 = this.g.silu(this.edgeFirstLayer(h, radials, `${prefix}.0`));
    return this.g.silu(this.dense(a1, `${prefix}.2`));
  }

  /** Sum over neighbours j, divided by the normalisation factor. */
  aggregate(m: Value): Value {
    const agg = this.g.sum(m, [2], false);
    return this.cfg.normalizationFactor !== 1 ? this.g.over(agg, this.g.scalar(this.cfg.normalizationFactor)) : agg;
  }

  /** Invariant graph convolution (egnn_new.GCL): attention-gated messages, residual node MLP; also its edge messages m `[B, N, N, H]`. */
  gcl(name: string, h: Value, radials: Value, nodeMask: Value, edgeMask: Value): { h: Value; m: Value } {
    const g = this.g;
    const H = this.cfg.nf;
    const m = this.edgeMlp(h, radials, `${name}.edge_mlp`);
    // attention gate and edge mask are both [B, N, N, 1]: combine them before touching [.., H]
    const gate = this.cfg.attention ? g.times(g.sigmoid(this.dense(m, `${name}.att_mlp.0`)), edgeMask) : edgeMask;
    const agg = this.aggregate(g.times(m, gate));
    const w0 = `${name}.node_mlp.0`;
    const pre = g.plus(g.linear(h, this.rows(`${w0}.weight`, 0, H), this.p(`${w0}.bias`)), g.linear(agg, this.rows(`${w0}.weight`, H, H)));
    const upd = this.dense(g.silu(pre), `${name}.node_mlp.2`);
    return { h: g.times(g.plus(h, upd), nodeMask), m };
  }

  /**
   * The bonds' noise from the last edge messages m `[B, N, N, H]`: a two-layer MLP, then
   * (o_ij + o_ji) / 2 so the bond of i-j and j-i is one prediction, zero off the edge mask.
   */
  bondHead(m: Value, edgeMask: Value): Value {
    const g = this.g;
    const o = this.dense(g.silu(this.dense(m, 'bond_mlp.0')), 'bond_mlp.2');
    const sym = g.times(g.plus(o, g.transpose(o, [0, 2, 1, 3])), g.scalar(0.5));
    return g.times(sym, edgeMask);
  }

  /** Equivariant coordinate update (egnn_new.EquivariantUpdate with tanh). */
  coordUpdate(name: string, h: Value, x: Value, diff: Value, radials: Value, nodeMask: Value, edgeMask: Value, moveMask: Value): Value {
    const g = this.g;
    let phi = this.dense(this.edgeMlp(h, radials, `${name}.coord_mlp`), `${name}.coord_mlp.4`, false); // [B, N, N, 1]
    if (this.cfg.tanh) phi = g.times(g.tanh(phi), g.scalar(this.cfg.coordsRange));
    const agg = this.aggregate(g.times(diff, g.times(phi, edgeMask)));
    // fixed context atoms (moveMask 0) keep their coordinates; a mask of ones is exact
    return g.times(g.plus(x, g.times(agg, moveMask)), nodeMask);
  }

  /** removeMeanWithMask: (v - sum(v m) / sum(m)) m over the atom axis. */
  removeMean(v: Value, mask: Value): Value {
    const g = this.g;
    const mean = g.over(g.sum(g.times(v, mask), [1], true), g.sum(mask, [1], true));
    return g.times(g.minus(v, mean), mask);
  }
}

/**
 * The network as an op graph.
 *
 * Inputs (B molecules, N atom slots, symbolic): xh `[B, N, D]` normalised positions and
 * features, t `[B, 1]`, node_mask `[B, N, 1]`, edge_mask `[B, N, N, 1]`, denoise_mask
 * `[B, N, 1]`, and context `[B, N, C]` when C > 0 (appended after the time channel as in
 * EGNN_dynamics_QM9._forward). Output eps `[B, N, D]`: the position part (x_final - x), centre of
 * mass of the denoised atoms removed when centred, then the F predicted feature noises; zero at
 * padded and fixed atoms.
 * @throws Error for an aggregation other than `sum`
 */
export function dynamicsGraph(cfg: DynamicsConfig, sig: DynamicsSignature): DynamicsGraph {
  if (cfg.aggregation !== 'sum') throw new Error(`egnn_dynamics: aggregation ${cfg.aggregation} is not supported`);
  const { D, contextNf } = sig;
  const edgeNf = sig.edgeNf ?? 0;
  const bondNf = sig.bondNf ?? 0;
  const g = new OpGraph();
  declareParams(g, cfg, D - 3 + 1 + contextNf, edgeNf + bondNf, bondNf);
  const net = new Dynamics(g, cfg);
  const xhIn = g.input('xh', ['B', 'N', D]);
  const t = g.input('t', ['B', 1]);
  const nodeMask = g.input('node_mask', ['B', 'N', 1]);
  const edgeMask = g.input('edge_mask', ['B', 'N', 'N', 1]);
  const denoiseMask = g.input('denoise_mask', ['B', 'N', 1]);
  const context = contextNf > 0 ? g.input('context', ['B', 'N', contextNf]) : undefined;
  const edgeAttr = edgeNf > 0 ? g.input('edge_attr', ['B', 'N', 'N', edgeNf]) : undefined;
  const bonds = bondNf > 0 ? g.times(g.input('bonds', ['B', 'N', 'N', bondNf]), edgeMask) : undefined;
  const edgeInputs = [edgeAttr, bonds].filter((v): v is Value => v !== undefined);

  const xh = g.times(xhIn, nodeMask);
  const x0 = g.slice(xh, 2, 0, 3);
  const hIn = g.slice(xh, 2, 3, D);
  const tNode = g.expand(g.unsqueeze(t, 2), nodeMask);
  const parts = [hIn, tNode];
  if (context) parts.push(g.times(context, nodeMask));
  let h = g.linear(g.concat(parts, 2), g.params.get('embedding.weight')!, g.params.get('embedding.bias')!);
  // d0_ij^2 of the input positions, fed to every layer (EGNN.forward; its norm constant 1 only
  // affects the unused direction)
  const radial0 = net.coordDiff(x0, 1).radial;
  let x = x0;
  let m: Value | undefined;
  for (let l = 0; l < cfg.nLayers; l++) {
    const { radial, diff } = net.coordDiff(x, cfg.normConstant);
    // [B, N, N, 2 (+ E + K)], EquivariantBlock's edge_attr
    const radials = g.concat([radial, radial0, ...edgeInputs], 3);
    let hb = h;
    for (let s = 0; s < cfg.invSublayers; s++) ({ h: hb, m } = net.gcl(`e_block_${l}.gcl_${s}`, hb, radials, nodeMask, edgeMask));
    x = net.coordUpdate(`e_block_${l}.gcl_equiv`, hb, x, diff, radials, nodeMask, edgeMask, denoiseMask);
    h = g.times(hb, nodeMask);
  }
  const hOut = g.times(g.linear(h, g.params.get('embedding_out.weight')!, g.params.get('embedding_out.bias')!), denoiseMask);
  let vel = g.times(g.minus(x, x0), denoiseMask);
  if (sig.centred) vel = net.removeMean(vel, denoiseMask);
  // drop the time and context channels appended to the input features
  const eps = g.concat([vel, g.slice(hOut, 2, 0, D - 3)], 2);
  return { g, eps, epsBonds: bondNf > 0 ? net.bondHead(m!, edgeMask) : undefined };
}

/** The network with EDM's L2 loss: graph, loss and its extra inputs. */
export interface TrainingGraph extends DynamicsGraph {
  /** scalar: 0.5 sum(loss_weight (eps - eps_theta)^2), plus the bonds' term of a bond-aware network */
  loss: Value;
}

/**
 * The training objective as a graph (EDM compute_loss, loss_type 'l2'): extra inputs eps
 * `[B, N, D]` (the noise to predict, input name `eps`) and loss_weight `[B, 1, D]` (per molecule
 * and channel: w(t) / (B D denomN), 0 for the feature channels of t = 0 rows; see
 * diffusion/loss.ts lossInputs). A bond-aware network adds eps_bonds `[B, N, N, K]` (the bonds'
 * noise) and bond_loss_weight `[B, 1, 1, K]`, whose term is summed the same way.
 */
export function trainingGraph(cfg: DynamicsConfig, sig: DynamicsSignature): TrainingGraph {
  const net = dynamicsGraph(cfg, sig);
  const { g } = net;
  const weightedSquares = (pred: Value, targetName: string, weightName: string, shape: (string | number)[], weightShape: (string | number)[]): Value => {
    const err = g.minus(pred, g.input(targetName, shape));
    const w = g.input(weightName, weightShape);
    return g.sum(g.times(err, g.times(err, w)), shape.map((_, i) => i), false);
  };
  let sum = weightedSquares(net.eps, 'eps', 'loss_weight', ['B', 'N', sig.D], ['B', 1, sig.D]);
  const K = sig.bondNf ?? 0;
  if (net.epsBonds) sum = g.plus(sum, weightedSquares(net.epsBonds, 'eps_bonds', 'bond_loss_weight', ['B', 'N', 'N', K], ['B', 1, 1, K]));
  return { ...net, loss: g.times(g.scalar(0.5), sum) };
}
