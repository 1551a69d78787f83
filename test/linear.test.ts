/** The hand-written gradient of `linear` equals tfjs's autodiff of matMul + add. */
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend.js';
import { linear } from '../src/net/linear.js';
import { expectClose } from './helpers.js';

describe('linear', () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });

  it('forward and gradients match autodiff of matMul + add', () => {
    const x = tf.randomNormal([2, 5, 7, 6], 0, 1, 'float32', 1);
    const w = tf.randomNormal([6, 4], 0, 1, 'float32', 2);
    const b = tf.randomNormal([4], 0, 1, 'float32', 3);
    const up = tf.randomNormal([2, 5, 7, 4], 0, 1, 'float32', 4);
    const ours = tf.grads((xx: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) => tf.sum(tf.mul(tf.sin(linear(xx, ww, bb)), up)));
    const ref = tf.grads((xx: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) =>
      tf.sum(tf.mul(tf.sin(tf.add(tf.matMul(xx.reshape([-1, 6]), ww), bb).reshape([2, 5, 7, 4])), up)),
    );
    const g1 = ours([x, w, b]);
    const g2 = ref([x, w, b]);
    expect(g1.length).toBe(3);
    g1.forEach((g, i) => expectClose(g.dataSync(), g2[i].dataSync(), 1e-5, 0, `grad ${i}`));
    const noBias = tf.grads((xx: tf.Tensor, ww: tf.Tensor) => tf.sum(tf.square(linear(xx, ww))));
    const noBiasRef = tf.grads((xx: tf.Tensor, ww: tf.Tensor) => tf.sum(tf.square(tf.matMul(xx.reshape([-1, 6]), ww))));
    noBias([x, w]).forEach((g, i) => expectClose(g.dataSync(), noBiasRef([x, w])[i].dataSync(), 1e-5, 0, `no-bias grad ${i}`));
  });
});
