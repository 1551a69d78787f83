/**
 * E(3) and permutation equivariance of the EGNN, zero-mean position output, and independence
 * from padding: on random weights and on the EDM reference weights.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend.js';
import { EDM_QM9_DYNAMICS, type DynamicsConfig } from '../src/config.js';
import { importTorchDir } from '../src/checkpoint/torch-import.js';
import { egnnDynamics } from '../src/egnn/egnn.js';
import { edgeMaskFromNodeMask } from '../src/egnn/geometry.js';
import { initParams, type Params } from '../src/egnn/params.js';
import { Rng } from '../src/random.js';
import { HAS_SHARED, SHARED } from './helpers.js';
import { expectEquivariant } from './equivariance.js';

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
      const out = egnnDynamics(p, cfg, { xh: tf.tensor3d(xh, [B, N, D]), t: tf.tensor2d([0.3, 0.8], [B, 1]), nodeMask, edgeMask: edgeMaskFromNodeMask(nodeMask) });
      return out.dataSync() as Float32Array;
    });
}

const cases: { name: string; skip: boolean; load: () => { p: Params; cfg: DynamicsConfig } }[] = [
  {
    name: 'random weights (nf 32, 3 layers)',
    skip: false,
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
    skip: !HAS_SHARED,
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
    describe.skipIf(c.skip)(`${c.name}${c.skip ? ' (skipped: ../shared absent)' : ''}`, () => {
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
