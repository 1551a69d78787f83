/**
 * Dense layer with a hand-written gradient.
 *
 * Why: tfjs's autodiff of `matMul` uses `transposeA/transposeB`, which the WebAssembly backend
 * runs about 10x slower than an explicit `transpose` followed by a plain `matMul`, and reduces
 * bias gradients with a strided sum over axis 0, about 5x slower than `ones[1, M] @ dy`
 * (measured with tf.profile on a training step). Every dense layer of the EGNN goes through
 * here, so training speed does too.
 */
import * as tf from '@tensorflow/tfjs';

/** Column sums of dy `[M, out]` as a matmul: `[out]`. */
function sumRows(dy: tf.Tensor2D): tf.Tensor1D {
  return tf.matMul(tf.ones([1, dy.shape[0]]), dy).reshape([-1]) as tf.Tensor1D;
}

const linearWithBias = tf.customGrad(((x: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor1D, save: tf.GradSaveFunc) => {
  save([x, w]);
  return {
    value: tf.fused.matMul({ a: x, b: w, bias: b }),
    gradFunc: (dy: tf.Tensor2D, saved: tf.Tensor[]) => {
      const [xs, ws] = saved as [tf.Tensor2D, tf.Tensor2D];
      return [tf.matMul(dy, tf.transpose(ws)), tf.matMul(tf.transpose(xs), dy), sumRows(dy)];
    },
  };
}) as never) as unknown as (
  x: tf.Tensor2D,
  w: tf.Tensor2D,
  b: tf.Tensor1D,
) => tf.Tensor2D;

const linearNoBias = tf.customGrad(((x: tf.Tensor2D, w: tf.Tensor2D, save: tf.GradSaveFunc) => {
  save([x, w]);
  return {
    value: tf.matMul(x, w),
    gradFunc: (dy: tf.Tensor2D, saved: tf.Tensor[]) => {
      const [xs, ws] = saved as [tf.Tensor2D, tf.Tensor2D];
      return [tf.matMul(dy, tf.transpose(ws)), tf.matMul(tf.transpose(xs), dy)];
    },
  };
}) as never) as unknown as (
  x: tf.Tensor2D,
  w: tf.Tensor2D,
) => tf.Tensor2D;

/**
 * y = x W + b over the last axis.
 * @param x `[..., in]`
 * @param w `[in, out]` (the transpose of a PyTorch Linear weight)
 * @param b `[out]`, optional
 * @returns `[..., out]`
 */
export function linear(x: tf.Tensor, w: tf.Tensor, b?: tf.Tensor): tf.Tensor {
  const inDim = x.shape[x.shape.length - 1]!;
  const outDim = w.shape[1]!;
  const lead = x.shape.slice(0, -1);
  const x2 = x.reshape([-1, inDim]) as tf.Tensor2D;
  const y = b ? linearWithBias(x2, w as tf.Tensor2D, b as tf.Tensor1D) : linearNoBias(x2, w as tf.Tensor2D);
  return y.reshape([...lead, outDim]);
}

/** SiLU (swish), x * sigmoid(x): EDM's activation everywhere (`nn.SiLU`). */
export function silu(x: tf.Tensor): tf.Tensor {
  return tf.mul(x, tf.sigmoid(x));
}
