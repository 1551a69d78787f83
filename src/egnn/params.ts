/**
 * Parameters of the `egnn_dynamics` network: names, shapes and initialisation.
 *
 * Names follow EDM's PyTorch state dict without the `dynamics.egnn.` prefix, with `.weight`
 * stored transposed as `[in, out]` (tfjs matmul layout) so the importer is a rename + transpose.
 */
import * as tf from '@tensorflow/tfjs';
import type { DynamicsConfig } from '../config.js';
import type { Rng } from '../random.js';
import { dynamicsParamShapes } from './definition.js';

/** Named weights of a model. Every tensor is float32. */
export type Params = Record<string, tf.Tensor>;

/**
 * Shape of every parameter, by name, in insertion order (weights `[in, out]`), as the network's
 * one definition declares them (definition.ts).
 * @param bondNf bond classes of a bond-aware network (0: EDM's)
 */
export function paramShapes(cfg: DynamicsConfig, inNodeNf: number, bondNf = 0): Map<string, number[]> {
  return dynamicsParamShapes(cfg, inNodeNf, bondNf);
}

/**
 * Fresh weights, initialised as PyTorch does for EDM: `nn.Linear` default
 * (U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weight and bias), and the last coordinate layer with
 * xavier_uniform(gain = 0.001) so that coordinate updates start near zero (egnn_new.py
 * EquivariantUpdate).
 * @param rng seeded generator; the same seed gives the same weights
 * @param bondNf bond classes of a bond-aware network (0: EDM's; its head is drawn last)
 */
export function initParams(cfg: DynamicsConfig, inNodeNf: number, rng: Rng, bondNf = 0): Params {
  const out: Params = {};
  const shapes = paramShapes(cfg, inNodeNf, bondNf);
  for (const [name, shape] of shapes) {
    const size = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(size);
    let bound: number;
    if (name.endsWith('coord_mlp.4.weight')) {
      bound = 0.001 * Math.sqrt(6 / (shape[0] + shape[1]));
    } else {
      const weightShape = name.endsWith('.bias')
        ? shapes.get(name.replace(/\.bias$/, '.weight'))!
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
