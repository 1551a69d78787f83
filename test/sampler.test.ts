/**
 * Sampling: reproducible for a seed, CoM-free positions, no tensors leaked across steps,
 * strided schedules, the temperature and the Langevin corrector, and impossible options rejected.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend.js';
import { makeModel, phi, type EdmModel } from '../src/diffusion/model.js';
import { disposeGraph, graphFromNodeMask } from '../src/graph/graph.js';
import { DEFAULT_CORRECTOR, langevinStep, sampleChain, sampleChainSteps } from '../src/diffusion/sampler.js';
import { runSteppedYielding } from '../src/diffusion/stepping.js';
import { InterruptedError } from '../src/errors.js';
import { PAIR_BUDGET, planSampling } from '../src/generate/plan.js';
import { combinedNoise } from '../src/diffusion/noise.js';
import { sigmaOf } from '../src/diffusion/schedule.js';
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

  it('a chain driven step by step with the event loop between steps gives sampleChain\'s molecules; stopped mid-chain it frees its tensors and rejects', async () => {
    const nNodes = Int32Array.from([5, 3]);
    const straight = sampleChain(model, nNodes, new Rng('stepped'), { steps: 6 });
    const yielding = await runSteppedYielding(sampleChainSteps(model, nNodes, new Rng('stepped'), { steps: 6 }), undefined);
    expect(Array.from(yielding.x)).toEqual(Array.from(straight.x));
    expect(Array.from(yielding.atomTypes)).toEqual(Array.from(straight.atomTypes));
    const before = tf.memory().numTensors;
    const stop = new AbortController();
    const seen: number[] = [];
    const run = runSteppedYielding(sampleChainSteps(model, nNodes, new Rng('stepped'), { steps: 6, onStep: (k) => (seen.push(k), k === 2 && stop.abort()) }), stop.signal, 'stopped here');
    await expect(run).rejects.toThrow(new InterruptedError('stopped here'));
    // the abort is seen right after the step that asked for it
    expect(seen).toEqual([1, 2]);
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
    expect(() => sampleMolecules(model, { n: 0, seed: 1 })).toThrow(/-n must be an integer in 1\.\.10000000/);
    expect(() => sampleMolecules(model, { n: 1, steps: 0, seed: 1 })).toThrow(/steps must be an integer in 1\.\.1000/);
    expect(() => sampleMolecules(model, { n: 1, steps: 1001, seed: 1 })).toThrow(/1\.\.1000/);
    expect(() => sampleMolecules(model, { n: 1, nAtoms: 1, seed: 1 })).toThrow(/--n-atoms/);
    expect(() => sampleMolecules(model, { n: 1, seed: 1, temperature: -0.5 })).toThrow(/--temperature must be a number >= 0 and <= 10, got -0.5/);
    expect(() => sampleMolecules(model, { n: 1, seed: 1, corrector: { steps: 1, snr: 0.1, fraction: 1.5 } })).toThrow(/--corrector-fraction must be a number > 0 and <= 1, got 1.5/);
    expect(() => sampleMolecules(model, { n: 1, seed: 1, corrector: { steps: 0, snr: 0.1, fraction: 0.2 } })).toThrow(/--corrector-steps/);
    expect(() => sampleMolecules(model, { n: 1, seed: 1, corrector: { steps: 1, snr: 0, fraction: 0.2 } })).toThrow(/--corrector-snr/);
  });

  it('the temperature scales the reverse step\'s noise: z_s(tau) = mu + tau sd noise', () => {
    // the first step's output (chain frame 0) from the same z_T and noise at three temperatures
    const frame = (temperature: number): Float32Array =>
      sampleChain(model, Int32Array.from([6, 4]), new Rng('temp'), { steps: 2, keepChainOf: [0, 1], chainEvery: 1, temperature }).chains!.flatMap((c) => Array.from(c[0].x)) as unknown as Float32Array;
    const [f0, fHalf, f1] = [frame(0), frame(0.5), frame(1)];
    let spread = 0;
    for (let i = 0; i < f0.length; i++) {
      spread = Math.max(spread, Math.abs(f1[i] - f0[i]));
      expect(fHalf[i] - f0[i]).toBeCloseTo(0.5 * (f1[i] - f0[i]), 4);
    }
    // the noise term is not negligible at this step, so the check has teeth
    expect(spread).toBeGreaterThan(0.1);
    // temperature 1 is EDM's sampler, bit for bit
    const a = sampleChain(model, Int32Array.from([6]), new Rng('t1'), { steps: 5 });
    const b = sampleChain(model, Int32Array.from([6]), new Rng('t1'), { steps: 5, temperature: 1 });
    expect(Buffer.from(b.x.buffer).equals(Buffer.from(a.x.buffer))).toBe(true);
  });

  it('a Langevin step is z + e score + sqrt(2 e) noise with e = 2 alpha (r |noise| / |score|)^2 per molecule', () => {
    // a network whose eps is z / 2, so the score is -z / (2 sigma_s)
    const half: EdmModel = { ...model, inference: { epsState: (z) => ({ atoms: tf.mul(z.atoms, 0.5) }) } };
    const nodeMask = tf.tensor3d(Float32Array.from([1, 1, 1, 1, 1, 1, 1, 1, 0, 0]), [2, 5, 1]);
    const graph = graphFromNodeMask(nodeMask);
    const zRng = new Rng('langevin-z');
    const zHost = combinedNoise(zRng, [5, 3], 5, 6);
    const z = tf.tensor3d(zHost, [2, 5, 9]);
    const rng = new Rng('langevin');
    const noise = combinedNoise(new Rng('langevin', rng.state()), [5, 3], 5, 6);
    const [s, alpha, r] = [0.1, 0.999, 0.2];
    const got = langevinStep(half, { atoms: z }, s, alpha, graph, r, rng, undefined).atoms;
    const out = got.dataSync();
    const sigma = sigmaOf(model.schedule.gammaAt(s));
    for (let b = 0; b < 2; b++) {
      let g2 = 0;
      let n2 = 0;
      for (let k = b * 45; k < (b + 1) * 45; k++) {
        g2 += (zHost[k] / (2 * sigma)) ** 2;
        n2 += noise[k] ** 2;
      }
      const e = 2 * alpha * r * r * (n2 / g2);
      for (let k = b * 45; k < (b + 1) * 45; k++) expect(out[k]).toBeCloseTo(zHost[k] - (e * zHost[k]) / (2 * sigma) + Math.sqrt(2 * e) * noise[k], 4);
    }
    tf.dispose([nodeMask, z, got]);
    disposeGraph(graph);
  });

  it('the corrector evaluates the network at s after each predictor step of the chain\'s last part, and keeps positions CoM-free', () => {
    const calls: number[] = [];
    const counting: EdmModel = {
      ...model,
      inference: {
        epsState: (z, t, graph) => {
          calls.push(t[0]);
          return { atoms: phi(model, z.atoms, t, graph, true) };
        },
      },
    };
    const plain = sampleChain(counting, Int32Array.from([6]), new Rng('pc'), { steps: 10 });
    // 10 predictor steps and p(x, h | z_0)
    expect(calls).toHaveLength(11);
    calls.length = 0;
    const pc = sampleChain(counting, Int32Array.from([6, 5]), new Rng('pc'), { steps: 10, corrector: { steps: 2, snr: 0.1, fraction: 0.3 } });
    // predictor at t = 1.0 ... 0.1; after the steps to s = 0.3, 0.2, 0.1, two corrector calls at s; then z_0
    const predictor = (t: number): string[] => [t.toFixed(1)];
    const expected = [1, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4].flatMap(predictor).concat(['0.3', '0.3', '0.3', '0.2', '0.2', '0.2', '0.1', '0.1', '0.1', '0.0']);
    expect(calls.map((t) => t.toFixed(1))).toEqual(expected);
    for (const [b, n] of [[0, 6], [1, 5]]) {
      for (let d = 0; d < 3; d++) {
        let s = 0;
        for (let i = 0; i < n; i++) s += pc.x[(b * pc.N + i) * 3 + d];
        expect(Math.abs(s / n)).toBeLessThan(1e-3);
      }
    }
    expect(Array.from(pc.x.slice(0, 18))).not.toEqual(Array.from(plain.x.slice(0, 18)));
  });

  it('a run uses DEFAULT_CORRECTOR unless told otherwise; corrector: false is EDM\'s sampler', () => {
    expect(planSampling(model, { n: 2, seed: 1 }).corrector).toEqual({ steps: 2, snr: 0.1, fraction: 0.2 });
    expect(planSampling(model, { n: 2, seed: 1, corrector: false }).corrector).toBeUndefined();
    const custom = { steps: 1, snr: 0.05, fraction: 0.5 };
    expect(planSampling(model, { n: 2, seed: 1, corrector: custom }).corrector).toEqual(custom);
    const positions = (corrector?: typeof custom | false): number[][] => sampleMolecules(model, { n: 2, steps: 10, seed: 'd', nAtoms: 5, corrector }).map((m) => Array.from(m.positions));
    const byDefault = positions();
    expect(byDefault).toEqual(positions({ ...DEFAULT_CORRECTOR }));
    // EDM's sampler: the chain of sampleChain without a corrector, molecule for molecule
    const edm = positions(false);
    expect(edm).not.toEqual(byDefault);
    const plain = sampleChain(model, Int32Array.from([5]), [new Rng('d:mol0')], { steps: 10 });
    expect(Array.from(plain.x.slice(0, 15))).toEqual(edm[0]);
  });
});

describe('batches of large molecules', () => {
  it('a default plan keeps each batch within PAIR_BUDGET atom pairs (GEOM-sized molecules), and QM9 plans are cut as before', () => {
    const geomLike = { ...TINY, dataset: { ...TINY.dataset, nNodesHistogram: { '20': 5, '60': 3, '120': 2, '181': 1 }, maxNAtoms: 181 } };
    const model = makeModel(geomLike, {});
    const plan = planSampling(model, { n: 400, seed: 2 });
    for (const b of plan.batches) if (b.ids.length > 1) expect(b.ids.length * Math.max(...b.nNodes) ** 2).toBeLessThanOrEqual(PAIR_BUDGET);
    expect(plan.batches.some((b) => b.ids.length === 1 && b.nNodes[0] === 181)).toBe(true);
    // every molecule is planned once, with the sizes a plan without the cap draws
    const asked = planSampling(model, { n: 400, seed: 2, batchSize: 50 });
    const sizesOf = (p: typeof plan) => new Map(p.batches.flatMap((b) => Array.from(b.ids, (id, k) => [id, b.nNodes[k]] as const)));
    expect(sizesOf(plan)).toEqual(sizesOf(asked));
    // QM9 (at most 29 atoms): batches of 50, as without the budget
    const qm9 = planSampling(makeModel({ ...TINY, dataset: { ...TINY.dataset, nNodesHistogram: { '29': 1, '9': 1 } } }, {}), { n: 400, seed: 2 });
    expect(qm9.batches.map((b) => b.ids.length)).toEqual(new Array(8).fill(50));
  });
});
