/**
 * AdamW with AMSGrad (Loshchilov & Hutter 2019; Reddi et al. 2018), as EDM trains with
 * `torch.optim.AdamW(amsgrad=True, weight_decay=1e-12)`. Written out because tfjs's Adam has
 * neither amsgrad nor weight decay, and because its moments must be saved for exact resume.
 */
import * as tf from '@tensorflow/tfjs';

/**
 * A variable of zeros shaped like `like`. The zeros tensor is freed inside `tidy`: a variable
 * keeps its own reference to the data, and an undisposed initial value would be counted as a
 * live tensor for ever.
 */
export function zerosVariable(like: tf.Tensor, trainable: boolean): tf.Variable {
  return tf.tidy(() => tf.variable(tf.zerosLike(like), trainable));
}

/** Hyper-parameters. */
export interface AdamWOptions {
  lr: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
}

/** Optimiser state over named variables. */
export class AdamW {
  readonly m: Record<string, tf.Variable> = {};
  readonly v: Record<string, tf.Variable> = {};
  readonly vmax: Record<string, tf.Variable> = {};
  /** number of updates applied (for bias correction) */
  step = 0;

  constructor(readonly vars: Record<string, tf.Variable>, readonly opts: AdamWOptions) {
    for (const [k, p] of Object.entries(vars)) {
      this.m[k] = zerosVariable(p, false);
      this.v[k] = zerosVariable(p, false);
      this.vmax[k] = zerosVariable(p, false);
    }
  }

  /**
   * One update, as torch.optim.AdamW (amsgrad): p <- p (1 - lr wd); m, v moments;
   * vmax = max(vmax, v); p <- p - lr m_hat / (sqrt(vmax / bc2) + eps).
   * @param grads gradient per variable name (already clipped)
   * @param lr this update's learning rate (a schedule's value; default the constructor's)
   */
  apply(grads: Record<string, tf.Tensor>, lr = this.opts.lr): void {
    for (const k of Object.keys(this.vars)) {
      if (!grads[k]) throw new Error(`AdamW: no gradient for parameter ${k}`);
    }
    const { beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weightDecay = 1e-12 } = this.opts;
    this.step++;
    const bc1 = 1 - beta1 ** this.step;
    const bc2 = 1 - beta2 ** this.step;
    tf.tidy(() => {
      for (const [k, p] of Object.entries(this.vars)) {
        const g = grads[k];
        const m = tf.add(tf.mul(this.m[k], beta1), tf.mul(g, 1 - beta1));
        const v = tf.add(tf.mul(this.v[k], beta2), tf.mul(tf.square(g), 1 - beta2));
        const vmax = tf.maximum(this.vmax[k], v);
        const denom = tf.add(tf.div(tf.sqrt(vmax), Math.sqrt(bc2)), eps);
        const decayed = tf.mul(p, 1 - lr * weightDecay);
        p.assign(tf.sub(decayed, tf.mul(tf.div(m, denom), lr / bc1)));
        this.m[k].assign(m);
        this.v[k].assign(v);
        this.vmax[k].assign(vmax);
      }
    });
  }
}

/**
 * EDM's adaptive gradient clipping (utils.gradient_clipping): the maximum norm is
 * 1.5 * mean + 2 * std of the last 50 recorded norms (the queue starts at 3000); a clipped
 * step records the maximum instead of its norm.
 */
export class GradNormQueue {
  constructor(public items: number[] = [3000], readonly maxLen = 50) {}

  /** Current clipping threshold. */
  maxNorm(): number {
    const n = this.items.length;
    const mean = this.items.reduce((a, b) => a + b, 0) / n;
    const variance = this.items.reduce((a, b) => a + (b - mean) ** 2, 0) / n;
    return 1.5 * mean + 2 * Math.sqrt(variance);
  }

  add(x: number): void {
    this.items.push(x);
    if (this.items.length > this.maxLen) this.items.shift();
  }
}

/** Global L2 norm of a set of gradients. */
export function globalNorm(grads: tf.Tensor[]): number {
  return tf.tidy(() => Math.sqrt(tf.addN(grads.map((g) => tf.sum(tf.square(g)))).dataSync()[0]));
}

/**
 * EMA of weights (EDM utils.EMA): ema <- beta ema + (1 - beta) current.
 */
export function updateEma(ema: Record<string, tf.Variable>, current: Record<string, tf.Tensor>, beta: number): void {
  tf.tidy(() => {
    for (const [k, e] of Object.entries(ema)) e.assign(tf.add(tf.mul(e, beta), tf.mul(current[k], 1 - beta)));
  });
}
