/**
 * The graph object: fixed context atoms and per-node context (DiffSBDD's conditioning form) on
 * top of EDM's network and sampler.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '../src/backend.js';
import { loadCheckpoint, saveCheckpoint } from '../src/checkpoint/format.js';
import { CONFIG_VERSION, type EdmConfig, dynamicsInputDim, validateConfig } from '../src/config.js';
import { egnnDynamics } from '../src/egnn/egnn.js';
import { initParams } from '../src/egnn/params.js';
import { makeModel } from '../src/diffusion/model.js';
import { sampleChain } from '../src/diffusion/sampler.js';
import { disposeGraph, makeGraph, positionDof } from '../src/graph/graph.js';
import { Rng } from '../src/random.js';
import { ROOT, TINY, expectClose } from './helpers.js';
import { randomOrthogonal, transformPositions } from './equivariance.js';

const CTX: EdmConfig = { ...TINY, version: 2, dynamics: { ...TINY.dynamics, contextNodeNf: 2 } };
const B = 2;
const N = 8;
const D = 9;
const nNodes = [8, 6];
const nFixed = [3, 2];

function inputs(rng: Rng): { xh: Float32Array; context: Float32Array } {
  const xh = new Float32Array(B * N * D);
  const context = new Float32Array(B * N * 2);
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < nNodes[b]; i++) {
      for (let d = 0; d < D; d++) xh[(b * N + i) * D + d] = d < 3 ? rng.normal() * 1.5 : rng.normal() * 0.3;
      context[(b * N + i) * 2] = i >= nNodes[b] - nFixed[b] ? 1 : 0;
      context[(b * N + i) * 2 + 1] = rng.normal();
    }
  }
  return { xh, context };
}

describe('graph with fixed atoms and context', () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });

  it('counts degrees of freedom: (n - 1) * 3 centred, n * 3 when fixed atoms set the frame', () => {
    const free = makeGraph({ nNodes: [5, 3] });
    const fixed = makeGraph({ nNodes: [5, 3], nFixed: [2, 1] });
    expect(Array.from(positionDof(free))).toEqual([12, 6]);
    expect(Array.from(positionDof(fixed))).toEqual([9, 6]);
    expect(free.denoiseMask).toBe(free.nodeMask);
    expect(Array.from(fixed.denoiseMask.dataSync())).toEqual([1, 1, 1, 0, 0, 1, 1, 0, 0, 0]);
    disposeGraph(free);
    disposeGraph(fixed);
    expect(() => makeGraph({ nNodes: [3], nFixed: [4] })).toThrow(/4 fixed atoms of 3/);
  });

  it('the network is E(3)-equivariant with fixed atoms, uses the context, and outputs zero at fixed atoms', () => {
    const rng = new Rng('graph-eq');
    const p = initParams(CTX.dynamics, dynamicsInputDim(CTX), rng);
    expect(p['embedding.weight'].shape).toEqual([6 + 1 + 2, 16]);
    const { xh, context } = inputs(rng);
    const run = (x: Float32Array, ctx: Float32Array): Float32Array =>
      tf.tidy(() => {
        const graph = makeGraph({ nNodes, N, nFixed, context: ctx, contextDim: 2 });
        const out = egnnDynamics(p, CTX.dynamics, { xh: tf.tensor3d(x, [B, N, D]), t: tf.tensor2d([0.3, 0.8], [B, 1]), graph });
        return out.dataSync() as Float32Array;
      });
    const base = run(xh, context);
    for (let b = 0; b < B; b++) {
      for (let i = nNodes[b] - nFixed[b]; i < N; i++) for (let d = 0; d < D; d++) expect(Math.abs(base[(b * N + i) * D + d])).toBe(0);
    }
    for (const reflect of [false, true]) {
      const R = randomOrthogonal(rng, reflect);
      const moved = transformPositions(xh, B, N, D, R, [4, -2, 7]);
      for (let b = 0; b < B; b++) for (let i = nNodes[b]; i < N; i++) for (let d = 0; d < D; d++) moved[(b * N + i) * D + d] = 0;
      expectClose(run(moved, context), transformPositions(base, B, N, D, R), 1e-4, 1e-6, 'fixed-atom graph');
    }
    const other = Float32Array.from(context, (v, i) => (i % 2 === 1 ? v + 1 : v));
    const changed = run(xh, other);
    expect(changed.some((v, i) => Math.abs(v - base[i]) > 1e-4)).toBe(true);
  });

  it('sampling keeps fixed atoms exactly where they were given', () => {
    const rng = new Rng('graph-fixed');
    const model = makeModel(CTX, initParams(CTX.dynamics, dynamicsInputDim(CTX), rng));
    const { xh, context } = inputs(rng);
    const out = sampleChain(model, Int32Array.from(nNodes), new Rng(5), {
      steps: 10,
      fixed: { nFixed: Int32Array.from(nFixed), xh },
      context: { values: context, dim: 2 },
    });
    for (let b = 0; b < B; b++) {
      for (let i = nNodes[b] - nFixed[b]; i < nNodes[b]; i++) {
        for (let d = 0; d < 3; d++) expect(out.x[(b * N + i) * 3 + d]).toBeCloseTo(xh[(b * N + i) * D + d], 5);
      }
    }
  });

  it('loads the stored version 1 checkpoint and a version 2 one with context written now; rejects context in version 1 configs', async () => {
    // arm b of issue 22, the default checkpoint until 2026-12-01, stored as version 1
    const v1 = loadCheckpoint(join(ROOT, 'checkpoints', 'trials', 'b-cosine'));
    expect(v1.config.version).toBe(1);
    expect(v1.config.dynamics.contextNodeNf).toBeUndefined();
    const dir = mkdtempSync(join(tmpdir(), 'edm-v2-'));
    await saveCheckpoint(dir, CTX, initParams(CTX.dynamics, dynamicsInputDim(CTX), new Rng('v2')));
    const v2 = loadCheckpoint(dir);
    expect(v2.config.version).toBe(2);
    expect(CONFIG_VERSION).toBe(3);
    expect(v2.config.dynamics.contextNodeNf).toBe(2);
    expect(v2.params['embedding.weight'].shape).toEqual([dynamicsInputDim(CTX), CTX.dynamics.nf]);
    expect(validateConfig(TINY, 'v1.json').dynamics.contextNodeNf).toBeUndefined();
    const bad = { ...TINY, dynamics: { ...TINY.dynamics, contextNodeNf: 2 } };
    expect(() => validateConfig(bad, 'bad.json')).toThrow(/contextNodeNf needs config version 2/);
    expect(() => validateConfig({ ...CTX, dynamics: { ...CTX.dynamics, contextNodeNf: -1 } }, 'neg.json')).toThrow(/non-negative/);
  });
});
