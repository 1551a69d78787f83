/**
 * The network is defined once (egnn/definition.ts): a change to it reaches the tfjs execution,
 * the ONNX forward graph, the derived backward graph and the parameter shapes with nothing else
 * edited. Checked on a variant with an extra edge input (`edgeNf`, as bond features will be):
 * the input is used, ONNX Runtime's output equals tfjs's, and the reverse-mode gradients equal
 * tfjs autodiff for every parameter, its new weight rows included. Also: the op graph refuses
 * shapes that do not fit. The reverse-mode check also runs on tfjs alone (the backward graph
 * executed by tfjs against its autodiff), so it never skips for want of onnxruntime-node.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend.js';
import { type DynamicsSignature, dynamicsGraph, trainingGraph } from '../src/egnn/definition.js';
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

  const variants = [
    { what: 'an extra edge input (edge_attr)', sig: { D: 9, contextNf: 0, centred: true, edgeNf: 2 }, edgeRows: 2 },
    { what: 'bond channels (input bonds, output eps_bonds through a transpose)', sig: { D: 9, contextNf: 0, centred: true, bondNf: 4 }, edgeRows: 4 },
  ];
  for (const variant of variants) {
    it(`${variant.what} is one change to the definition: tfjs, ONNX forward and reverse-mode gradients follow`, (ctx) => {
      ctx.skip(ORT_ABSENT, 'onnxruntime-node is not installed (an optional dependency)');
      checkVariant(variant.sig, variant.edgeRows);
    });
  }

  // the reverse-mode oracle without the optional package: the derived backward graph, executed by
  // tfjs itself, against tfjs autodiff of the forward graph
  const signatures = [{ what: "EDM's network", sig: { D: 9, contextNf: 0, centred: true } }, ...variants, { what: 'a per-node context', sig: { D: 9, contextNf: 3, centred: false } }];
  for (const { what, sig } of signatures) {
    it(`${what}: the derived reverse-mode gradients, run on tfjs, equal tfjs autodiff for every parameter`, () => {
      checkGradientsOnTfjs(sig);
    });
  }

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

/**
 * A network variant against the oracles: its edge inputs change the output, ONNX Runtime's
 * forward equals tfjs's, and the reverse-mode loss gradients equal tfjs autodiff (1e-4 relative)
 * for every parameter. Every graph input other than the masks gets random values.
 */
function checkVariant(sig: DynamicsSignature, edgeRows: number): void {
  const cfg = { ...TINY.dynamics, nLayers: 2 };
  const net = trainingGraph(cfg, sig);
  const rng = new Rng('edge-input');
  // the new weight rows come with the definition: the edge MLPs read 2H + 2 + edgeRows rows
  expect(net.g.params.get('e_block_0.gcl_0.edge_mlp.0.weight')!.shape).toEqual([2 * cfg.nf + 2 + edgeRows, cfg.nf]);
  const params = randomParams(net.g, rng);
  const [B, N] = [3, 6];
  const graph = makeGraph({ nNodes: [6, 4, 5], N });
  const masks = { node_mask: graph.nodeMask, edge_mask: graph.edgeMask, denoise_mask: graph.denoiseMask };
  const shapes: Record<string, number[]> = {};
  const host: Record<string, Float32Array> = {};
  for (const v of net.g.inputs) {
    if (v.name! in masks) continue;
    shapes[v.name!] = v.shape.map((d) => (d === 'B' ? B : d === 'N' ? N : (d as number)));
    const size = shapes[v.name!].reduce((a, b) => a * b, 1);
    // bond states are one-hot vectors scaled by 1/4 in the diffusion: small inputs keep tanh unsaturated
    host[v.name!] = randomInput(v.name!, size, B, rng);
  }
  const edgeInput = sig.bondNf ? 'bonds' : 'edge_attr';
  const feedsTf = (edgeScale = 1): Record<string, tf.Tensor> => ({
    ...masks,
    ...Object.fromEntries(Object.entries(host).map(([k, v]) => [k, tf.tensor(k === edgeInput ? v.map((x) => x * edgeScale) : v, shapes[k])])),
  });
  const session = (bytes: Uint8Array) => openSession(loadOrt()!, bytes, 2);
  const T = loadOrt()!.Tensor;
  const ortFeeds = (names: string[]): Record<string, unknown> => {
    const out: Record<string, unknown> = {};
    for (const k of names) out[k] = k in masks ? new T('float32', masks[k as keyof typeof masks].dataSync() as Float32Array, masks[k as keyof typeof masks].shape) : new T('float32', host[k], shapes[k]);
    return out;
  };
  try {
    // forward: the edge input changes the outputs, and ONNX Runtime computes what tfjs does
    const fwd = dynamicsGraph(cfg, sig);
    const outs = [fwd.eps, ...(fwd.epsBonds ? [fwd.epsBonds] : [])];
    const run = (scale: number): Float32Array[] => tf.tidy(() => runGraph(fwd.g, outs, feedsTf(scale), params).map((t) => t.dataSync() as Float32Array));
    const base = run(1);
    const other = run(2);
    expect(Math.max(...base[0].map((v, i) => Math.abs(v - other[0][i])))).toBeGreaterThan(1e-3);
    if (fwd.epsBonds) {
      // symmetric in i and j, zero off the edge mask (the diagonal, padding)
      const K = sig.bondNf!;
      const e = base[1];
      const edge = graph.edgeMask.dataSync();
      let largest = 0;
      for (let b = 0; b < B; b++)
        for (let i = 0; i < N; i++)
          for (let j = 0; j < N; j++)
            for (let k = 0; k < K; k++) {
              const v = e[((b * N + i) * N + j) * K + k];
              largest = Math.max(largest, Math.abs(v));
              expect(v).toBe(e[((b * N + j) * N + i) * K + k]);
              if (!edge[(b * N + i) * N + j]) expect(Math.abs(v)).toBe(0);
            }
      expect(largest).toBeGreaterThan(1e-3);
    }
    const weights = Object.fromEntries(Object.entries(params).map(([k, t]) => [k, t.dataSync() as Float32Array]));
    const emitted = outs.map((value, k) => ({ value, name: `out${k}`, dims: value.shape }));
    const inference = session(encodeModel(emitOnnx(fwd.g, emitted, weights).model('variant', '')));
    const got = inference.run(ortFeeds(fwd.g.inputs.map((v) => v.name!)), Object.fromEntries(emitted.map((o) => [o.name, null])), {});
    inference.dispose();
    base.forEach((ref, k) => {
      const o = got[`out${k}`].data as Float32Array;
      for (let i = 0; i < ref.length; i++) expect(Math.abs(o[i] - ref[i])).toBeLessThan(1e-4 * Math.max(1, Math.abs(ref[i])));
    });
    // backward: reverse mode over the same graph against tfjs autodiff
    const list = [...net.g.params.values()];
    const grads = gradients(net.g, net.loss, list);
    const outputs = [{ value: net.loss, name: 'loss', dims: [] }, ...list.map((p) => ({ value: grads.get(p)!, name: `grad:${p.name}`, dims: p.shape }))];
    const train = session(encodeModel(emitOnnx(net.g, outputs).model('variant_train', '')));
    const trainFeeds = ortFeeds(net.g.inputs.map((v) => v.name!));
    for (const [k, w] of Object.entries(weights)) trainFeeds[k] = new T('float32', w, params[k].shape);
    const res = train.run(trainFeeds, Object.fromEntries(outputs.map((o) => [o.name, null])), {});
    train.dispose();
    const vars = Object.fromEntries(Object.entries(params).map(([k, t]) => [k, tf.variable(t)]));
    const { value, grads: ref } = tf.variableGrads(() => runGraph(net.g, [net.loss], feedsTf(), vars)[0] as tf.Scalar, Object.values(vars));
    const nameOf = new Map(Object.entries(vars).map(([k, v]) => [v.name, k]));
    expect(Math.abs(res.loss.data[0] - value.dataSync()[0]) / value.dataSync()[0]).toBeLessThan(1e-5);
    expect(Object.keys(ref)).toHaveLength(list.length);
    for (const [tfName, g] of Object.entries(ref)) {
      const name = nameOf.get(tfName)!;
      const r = g.dataSync();
      const o = res[`grad:${name}`].data;
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
}

/**
 * The backward graph `gradients` derives, executed by tfjs (runGraph), against tfjs autodiff of
 * the loss: every parameter's gradient to 1e-4 relative (of its largest entry), so the oracle runs
 * wherever the test suite does, with or without onnxruntime-node.
 */
function checkGradientsOnTfjs(sig: DynamicsSignature): void {
  const cfg = { ...TINY.dynamics, nLayers: 2 };
  const net = trainingGraph(cfg, sig);
  const rng = new Rng('tfjs-backward');
  const params = randomParams(net.g, rng);
  const [B, N] = [3, 6];
  const graph = makeGraph({ nNodes: [6, 4, 5], N });
  const feeds: Record<string, tf.Tensor> = { node_mask: graph.nodeMask, edge_mask: graph.edgeMask, denoise_mask: graph.denoiseMask };
  for (const v of net.g.inputs) {
    if (v.name! in feeds) continue;
    const shape = v.shape.map((d) => (d === 'B' ? B : d === 'N' ? N : (d as number)));
    const size = shape.reduce((a, b) => a * b, 1);
    feeds[v.name!] = tf.tensor(randomInput(v.name!, size, B, rng), shape);
  }
  try {
    const list = [...net.g.params.values()];
    const grads = gradients(net.g, net.loss, list);
    const derived = tf.tidy(() => runGraph(net.g, list.map((p) => grads.get(p)!), feeds, params).map((t) => t.dataSync() as Float32Array));
    const vars = Object.fromEntries(Object.entries(params).map(([k, t]) => [k, tf.variable(t)]));
    const { value, grads: ref } = tf.variableGrads(() => runGraph(net.g, [net.loss], feeds, vars)[0] as tf.Scalar, Object.values(vars));
    const nameOf = new Map(Object.entries(vars).map(([k, v]) => [v.name, k]));
    const byName = new Map(Object.entries(ref).map(([vn, g]) => [nameOf.get(vn)!, g.dataSync() as Float32Array]));
    expect(Number.isFinite(value.dataSync()[0])).toBe(true);
    list.forEach((p, k) => {
      const want = byName.get(p.name!)!;
      const got = derived[k];
      const scale = Math.max(...want.map(Math.abs));
      expect(scale, p.name).toBeGreaterThan(0);
      let worst = 0;
      for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]));
      expect(worst, `${p.name}: worst |diff| ${worst}, scale ${scale}`).toBeLessThanOrEqual(1e-4 * scale + 1e-7);
    });
    tf.dispose([value, ...Object.values(ref), ...Object.values(vars)]);
  } finally {
    tf.dispose([...Object.values(params), ...Object.entries(feeds).filter(([k]) => !k.endsWith('mask')).map(([, t]) => t)]);
    disposeGraph(graph);
  }
}

/** Random parameters small enough that no tanh or sigmoid saturates (saturated units leave gradients at float32 rounding). */
function randomParams(g: OpGraph, rng: Rng): Record<string, tf.Tensor> {
  const params: Record<string, tf.Tensor> = {};
  for (const [name, v] of g.params) {
    const scale = name.endsWith('coord_mlp.4.weight') ? 0.22 : 0.3;
    params[name] = tf.tensor(Float32Array.from({ length: (v.shape as number[]).reduce((a, b) => a * b, 1) }, () => (rng.uniform() * 2 - 1) * scale), v.shape as number[]);
  }
  return params;
}

/** A random value for every graph input but the masks: small loss weights, t in [0, 1), bond states at half scale. */
function randomInput(name: string, size: number, B: number, rng: Rng): Float32Array {
  const weight = name.endsWith('loss_weight');
  const scale = name === 'bonds' ? 0.5 : 1;
  return Float32Array.from({ length: size }, () => (weight ? (0.5 + rng.uniform()) / (B * 9 * 29) : name === 't' ? rng.uniform() : scale * rng.normal()));
}
