/**
 * The ONNX export of egnn_dynamics run by ONNX Runtime against the tfjs network (the oracle):
 * the shipped checkpoint, and a small model with every optional branch (context, fixed atoms,
 * two sublayers, no attention, no tanh, normalisation factor, uncentred output).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { join } from 'node:path';
import { initBackend } from '../src/backend.js';
import { type EdmConfig, dynamicsInputDim } from '../src/config.js';
import { egnnDynamics } from '../src/egnn/egnn.js';
import { initParams } from '../src/egnn/params.js';
import { type EdmModel, makeModel } from '../src/diffusion/model.js';
import { disposeGraph, makeGraph } from '../src/graph/graph.js';
import { loadCheckpoint } from '../src/checkpoint/format.js';
import { decodeModel } from '../src/onnx/proto.js';
import { exportDynamics } from '../src/onnx/export.js';
import { OnnxDynamics, OnnxInference, loadOrt } from '../src/onnx/session.js';
import { sampleChain } from '../src/diffusion/sampler.js';
import { Rng } from '../src/random.js';
import { ROOT, TINY, expectClose } from './helpers.js';

const ORT_ABSENT = loadOrt() === undefined;

/** tfjs and ORT outputs of one random batch. */
async function compare(model: EdmModel, nNodes: number[], N: number, spec: { nFixed?: number[]; contextDim?: number; centred?: boolean }, rng: Rng): Promise<{ tfjs: Float32Array; ort: Float32Array }> {
  const B = nNodes.length;
  const D = 3 + model.config.dataset.atomDecoder.length + (model.config.diffusion.includeCharges ? 1 : 0);
  const xh = Float32Array.from({ length: B * N * D }, () => rng.normal());
  const C = spec.contextDim ?? 0;
  const context = C ? Float32Array.from({ length: B * N * C }, () => rng.normal()) : undefined;
  const t = Float32Array.from({ length: B }, () => rng.uniform());
  const graph = makeGraph({ nNodes, N, nFixed: spec.nFixed, context, contextDim: C || undefined, centred: spec.centred });
  const tfjs = tf.tidy(() => egnnDynamics(model.params, model.config.dynamics, { xh: tf.tensor3d(xh, [B, N, D]), t: tf.tensor2d(t, [B, 1]), graph, inference: true }).dataSync() as Float32Array);
  const onnx = OnnxDynamics.create(model.config, model.params, { threads: 1, centred: graph.centred });
  try {
    const ort = onnx.run({
      xh,
      t,
      B,
      N,
      context,
      nodeMask: graph.nodeMask.dataSync() as Float32Array,
      edgeMask: graph.edgeMask.dataSync() as Float32Array,
      denoiseMask: graph.denoiseMask.dataSync() as Float32Array,
    }).eps;
    return { tfjs, ort };
  } finally {
    disposeGraph(graph);
    onnx.close();
  }
}

describe('ONNX export of egnn_dynamics', () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });

  it('writes a well-formed ModelProto: opset 17, symbolic batch and atom dimensions, one initializer per weight slice', () => {
    const p = initParams(TINY.dynamics, dynamicsInputDim(TINY), new Rng('onnx-proto'));
    const m = decodeModel(exportDynamics(p, TINY.dynamics, { D: 9, contextNf: 0, centred: true }));
    expect(m.opsetImport[0].version).toBe(17);
    expect(m.graph.input.map((i) => i.name)).toEqual(['xh', 't', 'node_mask', 'edge_mask', 'denoise_mask']);
    expect(m.graph.input[0].type.tensorType.shape.dim).toEqual([{ dimParam: 'B' }, { dimParam: 'N' }, { dimValue: 9 }]);
    expect(m.graph.output.map((o) => o.name)).toEqual(['eps']);
    const floats = m.graph.initializer.filter((t) => t.dataType === 1 && t.dims.length > 0);
    const weightValues = floats.reduce((acc, t) => acc + t.dims.reduce((a, b) => a * b, 1), 0);
    const paramValues = Object.values(p).reduce((acc, t) => acc + t.size, 0);
    expect(weightValues).toBe(paramValues);
  });

  it('ONNX Runtime gives the tfjs network output on the shipped checkpoint (float32 tolerance)', async (ctx) => {
    ctx.skip(ORT_ABSENT, 'onnxruntime-node is not installed (an optional dependency)');
    const ck = loadCheckpoint(join(ROOT, 'checkpoints', 'qm9-default'));
    const model = makeModel(ck.config, ck.params);
    const { tfjs, ort } = await compare(model, [19, 12, 25, 3], 25, {}, new Rng('onnx-shipped'));
    expectClose(ort, tfjs, 1e-4, 1e-4, 'shipped checkpoint');
    expect(tfjs.some((v) => Math.abs(v) > 1)).toBe(true);
  });

  it('covers context, fixed atoms, sublayers, no attention/tanh and a normalisation factor', async (ctx) => {
    ctx.skip(ORT_ABSENT, 'onnxruntime-node is not installed (an optional dependency)');
    const cfg: EdmConfig = { ...TINY, version: 2, dynamics: { ...TINY.dynamics, contextNodeNf: 3, invSublayers: 2, attention: false, tanh: false, normalizationFactor: 4 } };
    const model = makeModel(cfg, initParams(cfg.dynamics, dynamicsInputDim(cfg), new Rng('onnx-branches')));
    const { tfjs, ort } = await compare(model, [8, 6, 7], 8, { nFixed: [3, 2, 0], contextDim: 3 }, new Rng('onnx-branches-in'));
    expectClose(ort, tfjs, 1e-4, 1e-5, 'conditional graph');
    const centred = await compare(model, [8, 6, 7], 8, { contextDim: 3, centred: true }, new Rng('onnx-branches-c'));
    expectClose(centred.ort, centred.tfjs, 1e-4, 1e-5, 'centred graph');
  });

  it('a whole 30-step trajectory with ONNX Runtime ends where the tfjs one does', (ctx) => {
    ctx.skip(ORT_ABSENT, 'onnxruntime-node is not installed (an optional dependency)');
    const ck = loadCheckpoint(join(ROOT, 'checkpoints', 'qm9-default'));
    const nNodes = Int32Array.from([19, 9, 14]);
    const tfjsModel = makeModel(ck.config, ck.params);
    const ortModel: EdmModel = { ...tfjsModel, inference: new OnnxInference(ck.config, ck.params, 2) };
    const a = sampleChain(tfjsModel, nNodes, new Rng('onnx-chain'), { steps: 30 });
    const b = sampleChain(ortModel, nNodes, new Rng('onnx-chain'), { steps: 30 });
    (ortModel.inference as OnnxInference).close();
    expectClose(b.x, a.x, 1e-3, 1e-3, 'final positions, Å');
    expect(Array.from(b.atomTypes)).toEqual(Array.from(a.atomTypes));
    expect(Array.from(b.charges)).toEqual(Array.from(a.charges));
  });
});
