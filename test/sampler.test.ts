/**
 * Sampling: reproducible for a seed, CoM-free positions, no tensors leaked across steps,
 * strided schedules, and impossible options rejected.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend.js';
import { makeModel, phi, type EdmModel } from '../src/diffusion/model.js';
import { disposeGraph, graphFromNodeMask } from '../src/graph/graph.js';
import { sampleChain } from '../src/diffusion/sampler.js';
import { initParams } from '../src/egnn/params.js';
import { Rng } from '../src/random.js';
import { sampleMolecules } from '../src/generate/local.js';
import { TINY } from './helpers.js';

describe('sampler', () => {
  let model: EdmModel;
  beforeAll(async () => {
    await initBackend('wasm');
    model = makeModel(TINY, initParams(TINY.dynamics, 7, new Rng(3)));
  });

  it('inference mode (each EGNN block freed as it ends) gives the same bits as the training path', () => {
    const nodeMask = tf.tensor3d(Float32Array.from([1, 1, 1, 1, 0, 1, 1, 1, 1, 1]), [2, 5, 1]);
    const graph = graphFromNodeMask(nodeMask);
    const rng = new Rng('inference');
    const z = tf.tensor3d(Float32Array.from({ length: 2 * 5 * 9 }, () => rng.normal()), [2, 5, 9]);
    const before = tf.memory().numTensors;
    const a = tf.tidy(() => phi(model, z, [0.3, 0.7], graph, false).dataSync());
    const b = tf.tidy(() => phi(model, z, [0.3, 0.7], graph, true).dataSync());
    expect(Buffer.from(b.buffer).equals(Buffer.from(a.buffer))).toBe(true);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([nodeMask, z]);
    disposeGraph(graph);
  });

  it('keeps the number of live tensors flat across denoising steps', () => {
    const counts: number[] = [];
    sampleChain(model, Int32Array.from([5, 8]), new Rng(1), { steps: 20, onStep: () => counts.push(tf.memory().numTensors) });
    expect(counts).toHaveLength(20);
    expect(new Set(counts.slice(1)).size).toBe(1);
    const before = tf.memory().numTensors;
    sampleChain(model, Int32Array.from([5]), new Rng(1), { steps: 3 });
    expect(tf.memory().numTensors).toBe(before);
  });

  it('is reproducible for a seed and gives CoM-free molecules of the requested sizes', () => {
    const a = sampleMolecules(model, { n: 3, steps: 10, seed: 's', nAtoms: 6 });
    const b = sampleMolecules(model, { n: 3, steps: 10, seed: 's', nAtoms: 6 });
    const c = sampleMolecules(model, { n: 3, steps: 10, seed: 'other', nAtoms: 6 });
    expect(a.map((m) => Array.from(m.positions))).toEqual(b.map((m) => Array.from(m.positions)));
    expect(a.map((m) => Array.from(m.positions))).not.toEqual(c.map((m) => Array.from(m.positions)));
    for (const m of a) {
      expect(m.elements).toHaveLength(6);
      for (let d = 0; d < 3; d++) {
        let s = 0;
        for (let i = 0; i < 6; i++) s += m.positions[i * 3 + d];
        expect(Math.abs(s / 6)).toBeLessThan(1e-3 * Math.max(1, Math.abs(m.positions[d])));
      }
    }
  });

  it('draws sizes from the histogram and records chains', () => {
    const mols = sampleMolecules(model, { n: 6, steps: 4, seed: 9 });
    for (const m of mols) expect([5, 8]).toContain(m.elements.length); // TINY histogram {5: 2, 8: 1}
    const out = sampleChain(model, Int32Array.from([5]), new Rng(1), { steps: 10, keepChainOf: [0], chainEvery: 5 });
    expect(out.chains![0]).toHaveLength(3); // steps 5 and 10, then the decoded molecule
  });

  it('rejects impossible options', () => {
    expect(() => sampleMolecules(model, { n: 0, seed: 1 })).toThrow(/positive integer/);
    expect(() => sampleMolecules(model, { n: 1, steps: 0, seed: 1 })).toThrow(/steps must be an integer in 1\.\.1000/);
    expect(() => sampleMolecules(model, { n: 1, steps: 1001, seed: 1 })).toThrow(/1\.\.1000/);
    expect(() => sampleMolecules(model, { n: 1, nAtoms: 1, seed: 1 })).toThrow(/--n-atoms/);
  });
});
