/**
 * E(3) and permutation equivariance of the EGNN, zero-mean position output, and independence
 * from padding: on random weights and on the EDM reference weights.
 */
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend.js';
import { EDM_QM9_DYNAMICS, type DynamicsConfig } from '../src/config.js';
import { importTorchDir } from '../src/checkpoint/torch-import.js';
import { egnnDynamics } from '../src/egnn/egnn.js';
import { graphFromNodeMask } from '../src/graph/graph.js';
import { initParams, type Params } from '../src/egnn/params.js';
import { Rng } from '../src/random.js';
import { SHARED, TINY, skipWithoutShared } from './helpers.js';
import { expectEquivariant, expectEquivariantWithEdges, randomOrthogonal, transformPositions } from './equivariance.js';
import { dynamicsGraph } from '../src/egnn/definition.js';
import { runGraph } from '../src/net/tfjs-run.js';
import { dynamicsInputDim, featureDim } from '../src/config.js';
import { disposeBatch, makeBatch } from '../src/data/batch.js';
import type { Molecule } from '../src/data/molecule.js';
import { drawStepNoise, trainingLoss } from '../src/diffusion/loss.js';
import { type EdmModel, makeModel } from '../src/diffusion/model.js';
import { sampleZsGivenZt } from '../src/diffusion/sampler.js';

const B = 2;
const N = 9;
const D = 9;
const nNodes = [9, 6];

function randomInput(rng: Rng): { xh: Float32Array; mask: Float32Array } {
  const xh = new Float32Array(B * N * D);
  const mask = new Float32Array(B * N);
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < nNodes[b]; i++) {
      mask[b * N + i] = 1;
      for (let d = 0; d < D; d++) xh[(b * N + i) * D + d] = d < 3 ? rng.normal() * 1.5 : rng.normal() * 0.3;
    }
  }
  return { xh, mask };
}

function runner(p: Params, cfg: DynamicsConfig, mask: Float32Array): (xh: Float32Array) => Float32Array {
  return (xh) =>
    tf.tidy(() => {
      const nodeMask = tf.tensor3d(mask, [B, N, 1]);
      const out = egnnDynamics(p, cfg, { xh: tf.tensor3d(xh, [B, N, D]), t: tf.tensor2d([0.3, 0.8], [B, 1]), graph: graphFromNodeMask(nodeMask) });
      return out.dataSync() as Float32Array;
    });
}

const cases: { name: string; needsShared: boolean; load: () => { p: Params; cfg: DynamicsConfig } }[] = [
  {
    name: 'random weights (nf 32, 3 layers)',
    needsShared: false,
    load: () => {
      const cfg = { ...EDM_QM9_DYNAMICS, nf: 32, nLayers: 3 };
      const p = initParams(cfg, 7, new Rng('eq-init'));
      // larger last-layer weights so coordinate updates are not ~0 (init uses gain 0.001)
      for (let l = 0; l < 3; l++) {
        const k = `e_block_${l}.gcl_equiv.coord_mlp.4.weight`;
        p[k] = tf.mul(p[k], 500);
      }
      return { p, cfg };
    },
  },
  ...['small', 'edm_qm9'].map((name) => ({
    name: `EDM reference weights (${name})`,
    needsShared: true,
    load: () => {
      const { config, params } = importTorchDir(join(SHARED, 'reference', 'edm', name), { name: 'qm9', atomDecoder: ['H', 'C', 'N', 'O', 'F'], nNodesHistogram: { '9': 1 }, maxNAtoms: 29 });
      return { p: params, cfg: config.dynamics };
    },
  })),
];

describe('EGNN equivariance', () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });

  for (const c of cases) {
    describe(c.name, () => {
      beforeEach((ctx) => {
        if (c.needsShared) skipWithoutShared(ctx);
      });
      it('rotations, reflections, translations and permutations', () => {
        const { p, cfg } = c.load();
        const rng = new Rng(`eq-${c.name}`);
        const { xh, mask } = randomInput(rng);
        const f = runner(p, cfg, mask);
        const out = f(xh);
        // the position output really depends on the positions (the test is not vacuous)
        expect(Math.max(...Array.from(out).filter((_, k) => k % D < 3).map(Math.abs))).toBeGreaterThan(1e-4);
        expectEquivariant(f, xh, B, N, D, nNodes, rng);
      });

      it('position output has zero mean over real atoms and zeros at padding', () => {
        const { p, cfg } = c.load();
        const { xh, mask } = randomInput(new Rng('mean'));
        const out = runner(p, cfg, mask)(xh);
        for (let b = 0; b < B; b++) {
          for (let d = 0; d < 3; d++) {
            let s = 0;
            for (let i = 0; i < nNodes[b]; i++) s += out[(b * N + i) * D + d];
            expect(Math.abs(s / nNodes[b])).toBeLessThan(1e-5);
          }
          for (let i = nNodes[b]; i < N; i++) for (let d = 0; d < D; d++) expect(Math.abs(out[(b * N + i) * D + d])).toBe(0);
        }
      });

      it('padded atoms never affect real ones', () => {
        const { p, cfg } = c.load();
        const { xh, mask } = randomInput(new Rng('pad'));
        const garbage = Float32Array.from(xh);
        for (let i = nNodes[1]; i < N; i++) for (let d = 0; d < D; d++) garbage[(N + i) * D + d] = 100 + i * d;
        const f = runner(p, cfg, mask);
        const a = f(xh);
        const b2 = f(garbage);
        for (let k = 0; k < a.length; k++) expect(Math.abs(a[k] - b2[k])).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(a[k])));
      });
    });
  }
});

describe('bond-aware EGNN equivariance', () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });

  it('positions equivariant, features and bond noise invariant; atoms permute nodes and both bond axes', () => {
    const K = 4;
    const cfg = { ...EDM_QM9_DYNAMICS, nf: 32, nLayers: 3 };
    const net = dynamicsGraph(cfg, { D, contextNf: 0, centred: true, bondNf: K });
    const rng = new Rng('eq-bonds');
    const p: Params = {};
    for (const [name, v] of net.g.params) p[name] = tf.tensor(Float32Array.from({ length: (v.shape as number[]).reduce((a, b) => a * b, 1) }, () => (rng.uniform() * 2 - 1) * 0.3), v.shape as number[]);
    const { xh, mask } = randomInput(rng);
    // a symmetric bond state on the real pairs
    const e = new Float32Array(B * N * N * K);
    for (let b = 0; b < B; b++)
      for (let i = 0; i < nNodes[b]; i++)
        for (let j = 0; j < i; j++)
          for (let k = 0; k < K; k++) e[((b * N + i) * N + j) * K + k] = e[((b * N + j) * N + i) * K + k] = rng.normal() * 0.3;
    const f = (x: Float32Array, bonds: Float32Array): [Float32Array, Float32Array] =>
      tf.tidy(() => {
        const graph = graphFromNodeMask(tf.tensor3d(mask, [B, N, 1]));
        const feeds = { xh: tf.tensor3d(x, [B, N, D]), t: tf.tensor2d([0.3, 0.8], [B, 1]), bonds: tf.tensor4d(bonds, [B, N, N, K]), node_mask: graph.nodeMask, edge_mask: graph.edgeMask, denoise_mask: graph.denoiseMask };
        const [eps, epsBonds] = runGraph(net.g, [net.eps, net.epsBonds!], feeds, p);
        return [eps.dataSync() as Float32Array, epsBonds.dataSync() as Float32Array];
      });
    const [, bondsOut] = f(xh, e);
    // the bond output depends on the positions and on the bond input (the test is not vacuous)
    expect(Math.max(...bondsOut.map(Math.abs))).toBeGreaterThan(1e-3);
    const [, shifted] = f(xh.map((v, k) => (k % D < 3 ? v * 1.1 : v)), e);
    expect(Math.max(...shifted.map((v, k) => Math.abs(v - bondsOut[k])))).toBeGreaterThan(1e-4);
    expectEquivariantWithEdges(f, xh, e, { B, N, D, K }, nNodes, rng);
    tf.dispose(Object.values(p));
  });
});

describe('diffusion equivariance', () => {
  const molecules: Molecule[] = [
    { elements: ['C', 'O', 'H', 'H', 'N', 'H'], positions: Float32Array.from([0, 0, 0, 1.2, 0.1, 0, -0.5, 0.9, 0.2, -0.6, -0.9, 0.1, 0.3, 0.2, 1.4, 0.9, 0.8, 1.9]) },
    { elements: ['C', 'H', 'H', 'H'], positions: Float32Array.from([0, 0, 0, 0.63, 0.63, 0.63, 0.63, -0.63, -0.63, -0.63, 0.63, -0.63]) },
  ];
  let model: EdmModel;
  beforeAll(async () => {
    await initBackend('wasm');
    const p = initParams(TINY.dynamics, dynamicsInputDim(TINY), new Rng('diff-eq'));
    // larger last coordinate layers so eps_theta's positions matter (init uses gain 0.001)
    for (let l = 0; l < TINY.dynamics.nLayers; l++) {
      const k = `e_block_${l}.gcl_equiv.coord_mlp.4.weight`;
      p[k] = tf.mul(p[k], 500);
    }
    model = makeModel(TINY, p);
  });

  it('the reverse step p(z_s | z_t) commutes with rotations, reflections and permutations, and drops translations', () => {
    const nN = molecules.map((m) => m.elements.length);
    const [Bd, Nd] = [nN.length, Math.max(...nN)];
    const Dd = 3 + featureDim(TINY);
    const rng = new Rng('zt');
    const zt = new Float32Array(Bd * Nd * Dd);
    const mask = new Float32Array(Bd * Nd);
    for (let b = 0; b < Bd; b++) {
      for (let i = 0; i < nN[b]; i++) {
        mask[b * Nd + i] = 1;
        for (let d = 0; d < Dd; d++) zt[(b * Nd + i) * Dd + d] = rng.normal();
      }
    }
    // zero noise: the step's mean, whose equivariance carries over to isotropic noise
    const step = (z: Float32Array): Float32Array =>
      tf.tidy(() => {
        const nodeMask = tf.tensor3d(mask, [Bd, Nd, 1]);
        const out = sampleZsGivenZt(model, [0.4, 0.7], [0.5, 0.8], tf.tensor3d(z, [Bd, Nd, Dd]), graphFromNodeMask(nodeMask), tf.zeros([Bd, Nd, Dd]));
        return out.dataSync() as Float32Array;
      });
    expectEquivariant(step, zt, Bd, Nd, Dd, nN, rng);
  });

  it('the training loss is invariant to rotations, reflections, translations and permutations', () => {
    const decoder = TINY.dataset.atomDecoder;
    const loss = (mols: Molecule[], eps: Float32Array): number => {
      const batch = makeBatch(mols, decoder);
      const value = tf.tidy(() => trainingLoss(model, batch, { tInt: Int32Array.from([300, 700]), eps }, 29).dataSync()[0]);
      disposeBatch(batch);
      return value;
    };
    const batch = makeBatch(molecules, decoder);
    const noise = drawStepNoise(model, batch, new Rng('loss-noise'));
    disposeBatch(batch);
    const [Bd, Nd, Dd] = [2, 6, 3 + featureDim(TINY)];
    const base = loss(molecules, noise.eps);
    const rng = new Rng('loss-eq');
    for (const reflect of [false, true]) {
      const R = randomOrthogonal(rng, reflect);
      const t = [rng.normal() * 3, rng.normal() * 3, rng.normal() * 3];
      const moved = molecules.map((m) => ({ ...m, positions: transformPositions(m.positions, 1, m.elements.length, 3, R, t) }));
      expect(Math.abs(loss(moved, transformPositions(noise.eps, Bd, Nd, Dd, R)) - base)).toBeLessThan(1e-5 * base);
    }
    // reverse the atoms of each molecule, and the rows of eps with them
    const reversed = molecules.map((m) => {
      const n = m.elements.length;
      const positions = new Float32Array(n * 3);
      for (let i = 0; i < n; i++) positions.set(m.positions.subarray((n - 1 - i) * 3, (n - i) * 3), i * 3);
      return { elements: [...m.elements].reverse(), positions };
    });
    const eps = Float32Array.from(noise.eps);
    molecules.forEach((m, b) => {
      const n = m.elements.length;
      for (let i = 0; i < n; i++) eps.set(noise.eps.subarray((b * Nd + n - 1 - i) * Dd, (b * Nd + n - i) * Dd), (b * Nd + i) * Dd);
    });
    expect(Math.abs(loss(reversed, eps) - base)).toBeLessThan(1e-5 * base);
    expect(base).toBeGreaterThan(0);
  });
});
