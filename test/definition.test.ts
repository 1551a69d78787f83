/**
 * The network is defined once (egnn/definition.ts): a change to it reaches the tfjs execution,
 * the ONNX forward graph, the derived backward graph and the parameter shapes with nothing else
 * edited. Checked on a variant with an extra edge input (`edgeNf`, as bond features will be):
 * the input is used, ONNX Runtime's output equals tfjs's, and the reverse-mode gradients equal
 * tfjs autodiff for every parameter, its new weight rows included. Also: the op graph refuses
 * shapes that do not fit.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend.js';
import { dynamicsGraph, trainingGraph } from '../src/egnn/definition.js';
import { gradients } from '../src/net/autodiff.js';
import { OpGraph } from '../src/net/ir.js';
import { runGraph } from '../src/net/tfjs-run.js';
import { emitOnnx } from '../src/onnx/emit.js';
import { encodeModel } from '../src/onnx/proto.js';
import { loadOrt, openSession } from '../src/onnx/session.js';
import { makeGraph, disposeGraph } from '../src/graph/graph.js';
import { Rng } from '../src/random.js';
import { TINY } from './helpers.js';

const ORT_ABSENT = loadOrt() === undefined;

describe('one definition of the network', () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });

  it('an extra edge input is one change to the definition: tfjs, ONNX forward and reverse-mode gradients follow', (ctx) => {
    ctx.skip(ORT_ABSENT, 'onnxruntime-node is not installed (an optional dependency)');
    const cfg = { ...TINY.dynamics, nLayers: 2 };
    const sig = { D: 9, contextNf: 0, centred: true, edgeNf: 2 };
    const net = trainingGraph(cfg, sig);
    const rng = new Rng('edge-input');
    // the new weight rows come with the definition: the edge MLPs read 2H + 2 + 2 rows
    expect(net.g.params.get('e_block_0.gcl_0.edge_mlp.0.weight')!.shape).toEqual([2 * cfg.nf + 4, cfg.nf]);
    const params: Record<string, tf.Tensor> = {};
    for (const [name, v] of net.g.params) {
      const scale = name.endsWith('coord_mlp.4.weight') ? 0.3 : 0.4;
      params[name] = tf.tensor(Float32Array.from({ length: (v.shape as number[]).reduce((a, b) => a * b, 1) }, () => (rng.uniform() * 2 - 1) * scale), v.shape as number[]);
    }
    const [B, N, D] = [3, 6, 9];
    const graph = makeGraph({ nNodes: [6, 4, 5], N });
    const host = {
      xh: Float32Array.from({ length: B * N * D }, () => rng.normal()),
      t: Float32Array.from({ length: B }, () => rng.uniform()),
      edge_attr: Float32Array.from({ length: B * N * N * 2 }, () => rng.normal()),
      eps: Float32Array.from({ length: B * N * D }, () => rng.normal()),
      loss_weight: Float32Array.from({ length: B * D }, () => 1 / (B * D * 29)),
    };
    const shapes: Record<string, number[]> = { xh: [B, N, D], t: [B, 1], edge_attr: [B, N, N, 2], eps: [B, N, D], loss_weight: [B, 1, D] };
    const masks = { node_mask: graph.nodeMask, edge_mask: graph.edgeMask, denoise_mask: graph.denoiseMask };
    const feedsTf = (edgeScale = 1): Record<string, tf.Tensor> => ({
      ...masks,
      ...Object.fromEntries(Object.entries(host).map(([k, v]) => [k, tf.tensor(k === 'edge_attr' ? v.map((x) => x * edgeScale) : v, shapes[k])])),
    });
    const session = (bytes: Uint8Array) => openSession(loadOrt()!, bytes, 2);
    const ortFeeds = (): Record<string, unknown> => {
      const T = loadOrt()!.Tensor;
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(host)) out[k] = new T('float32', v, shapes[k]);
      for (const [k, t] of Object.entries(masks)) out[k] = new T('float32', t.dataSync() as Float32Array, t.shape);
      return out;
    };
    try {
      // forward: the edge input changes eps, and ONNX Runtime computes what tfjs does
      const fwd = dynamicsGraph(cfg, sig);
      const eps = tf.tidy(() => runGraph(fwd.g, [fwd.eps], feedsTf(), params)[0].dataSync());
      const epsOther = tf.tidy(() => runGraph(fwd.g, [fwd.eps], feedsTf(2), params)[0].dataSync());
      expect(Math.max(...eps.map((v, i) => Math.abs(v - epsOther[i])))).toBeGreaterThan(1e-3);
      const weights = Object.fromEntries(Object.entries(params).map(([k, t]) => [k, t.dataSync() as Float32Array]));
      const inference = session(encodeModel(emitOnnx(fwd.g, [{ value: fwd.eps, name: 'eps_out', dims: ['B', 'N', D] }], weights).model('variant', '')));
      const feeds = ortFeeds();
      delete feeds.eps;
      delete feeds.loss_weight;
      const ortEps = inference.run(feeds, { eps_out: null }, {}).eps_out.data;
      inference.dispose();
      for (let i = 0; i < eps.length; i++) expect(Math.abs(ortEps[i] - eps[i])).toBeLessThan(1e-4 * Math.max(1, Math.abs(eps[i])));
      // backward: reverse mode over the same graph against tfjs autodiff
      const list = [...net.g.params.values()];
      const grads = gradients(net.g, net.loss, list);
      const outputs = [{ value: net.loss, name: 'loss', dims: [] }, ...list.map((p) => ({ value: grads.get(p)!, name: `grad:${p.name}`, dims: p.shape }))];
      const train = session(encodeModel(emitOnnx(net.g, outputs).model('variant_train', '')));
      const trainFeeds = ortFeeds();
      const T = loadOrt()!.Tensor;
      for (const [k, w] of Object.entries(weights)) trainFeeds[k] = new T('float32', w, params[k].shape);
      const got = train.run(trainFeeds, Object.fromEntries(outputs.map((o) => [o.name, null])), {});
      train.dispose();
      const vars = Object.fromEntries(Object.entries(params).map(([k, t]) => [k, tf.variable(t)]));
      const { value, grads: ref } = tf.variableGrads(() => runGraph(net.g, [net.loss], feedsTf(), vars)[0] as tf.Scalar, Object.values(vars));
      const nameOf = new Map(Object.entries(vars).map(([k, v]) => [v.name, k]));
      expect(Math.abs(got.loss.data[0] - value.dataSync()[0]) / value.dataSync()[0]).toBeLessThan(1e-5);
      for (const [tfName, g] of Object.entries(ref)) {
        const name = nameOf.get(tfName)!;
        const r = g.dataSync();
        const o = got[`grad:${name}`].data;
        const scale = Math.max(...r.map(Math.abs));
        expect(scale, `${name}: the oracle gradient is all zeros`).toBeGreaterThan(0);
        const err = Math.max(...r.map((v, i) => Math.abs(v - o[i])));
        expect(err / scale, name).toBeLessThan(1e-4);
      }
      tf.dispose([value, ...Object.values(ref), ...Object.values(vars)]);
    } finally {
      tf.dispose(Object.values(params));
      disposeGraph(graph);
    }
  });

  it('refuses shapes that do not fit, naming the op', () => {
    const g = new OpGraph();
    const x = g.input('x', ['B', 'N', 4]);
    expect(() => g.linear(x, g.param('w', [3, 2]))).toThrow(/Linear of \[B,N,4\] by \[3,2\]/);
    expect(() => g.plus(x, g.input('y', ['B', 'N', 3]))).toThrow(/Add: dimensions 4 and 3 do not broadcast/);
    expect(() => g.slice(x, 2, 2, 5)).toThrow(/Slice \[2, 5\) of axis 2/);
    expect(() => g.param('w', [3, 3])).toThrow(/declared as \[3,2\] and \[3,3\]/);
    expect(() => gradients(g, x, [])).toThrow(/the loss must be a scalar/);
  });
});
