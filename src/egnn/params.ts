/**
 * Parameters of the `egnn_dynamics` network: names, shapes and initialisation.
 *
 * Names follow EDM's PyTorch state dict without the `dynamics.egnn.` prefix, with `.weight`
 * stored transposed as `[in, out]` (tfjs matmul layout) so the importer is a rename + transpose.
 */
import * as tf from '@tensorflow/tfjs';
import type { DynamicsConfig } from '../config.js';
import type { Rng } from '../random.js';

/** Named weights of a model. Every tensor is float32. */
export type Params = Record<string, tf.Tensor>;

/** Shape of every parameter, by name, in insertion order (weights `[in, out]`). */
export function paramShapes(cfg: DynamicsConfig, inNodeNf: number): Map<string, number[]> {
  const H = cfg.nf;
  const edgeIn = 2 * H + 2; // [h_i, h_j, d_ij^2, d0_ij^2]
  const s = new Map<string, number[]>();
  const lin = (name: string, i: number, o: number, bias = true): void => {
    s.set(`${name}.weight`, [i, o]);
    if (bias) s.set(`${name}.bias`, [o]);
  };
  lin('embedding', inNodeNf, H);
  lin('embedding_out', H, inNodeNf);
  for (let l = 0; l < cfg.nLayers; l++) {
    for (let g = 0; g < cfg.invSublayers; g++) {
      const p = `e_block_${l}.gcl_${g}`;
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
  return s;
}

/**
 * Fresh weights, initialised as PyTorch does for EDM: `nn.Linear` default
 * (U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weight and bias), and the last coordinate layer with
 * xavier_uniform(gain = 0.001) so that coordinate updates start near zero (egnn_new.py
 * EquivariantUpdate).
 * @param rng seeded generator; the same seed gives the same weights
 */
export function initParams(cfg: DynamicsConfig, inNodeNf: number, rng: Rng): Params {
  const out: Params = {};
  for (const [name, shape] of paramShapes(cfg, inNodeNf)) {
    const size = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(size);
    let bound: number;
    if (name.endsWith('coord_mlp.4.weight')) {
      bound = 0.001 * Math.sqrt(6 / (shape[0] + shape[1]));
    } else {
      const weightShape = name.endsWith('.bias')
        ? paramShapes(cfg, inNodeNf).get(name.replace(/\.bias$/, '.weight'))!
        : shape;
      bound = 1 / Math.sqrt(weightShape[0]);
    }
    for (let i = 0; i < size; i++) data[i] = (rng.uniform() * 2 - 1) * bound;
    out[name] = tf.tensor(data, shape, 'float32');
  }
  return out;
}

/** Total number of scalar parameters. */
export function countParams(params: Params): number {
  return Object.values(params).reduce((n, t) => n + t.size, 0);
}
