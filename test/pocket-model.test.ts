/**
 * The pocket-conditional model: pairing of complex files, E(3) equivariance of the network and of
 * a reverse step with the pocket as fixed context, training that lowers the loss, sampling that
 * leaves the pocket alone.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend.js';
import { CONFIG_VERSION, EDM_QM9_DIFFUSION, EDM_QM9_DYNAMICS, type EdmConfig, dynamicsInputDim } from '../src/config.js';
import { disposeBatch } from '../src/data/batch.js';
import { drawStepNoise, trainingLoss } from '../src/diffusion/loss.js';
import { makeModel, normalizedXh, phi } from '../src/diffusion/model.js';
import { sampleZsGivenZt } from '../src/diffusion/sampler.js';
import { initParams } from '../src/egnn/params.js';
import { type ComplexExample, makeComplexBatch } from '../src/pocket/complex.js';
import { DEFAULT_POCKET_CONDITIONING, findComplexPairs, sampleWithPocket, trainPocketModel } from '../src/pocket/conditional.js';
import { Rng } from '../src/random.js';
import { ROOT, SHARED, expectClose } from './helpers.js';
import { loadCheckpoint } from '../src/checkpoint/format.js';
import { randomOrthogonal } from './equivariance.js';

const c = DEFAULT_POCKET_CONDITIONING;
const CONFIG: EdmConfig = {
  format: 'edm-ts-checkpoint',
  version: CONFIG_VERSION,
  dynamics: { ...EDM_QM9_DYNAMICS, nf: 16, nLayers: 2, normalizationFactor: 100, contextNodeNf: c.pocketTypes.length + 2 },
  diffusion: { ...EDM_QM9_DIFFUSION, timesteps: 50 },
  dataset: { name: 'pockets', atomDecoder: ['C', 'N', 'O'], nNodesHistogram: { '6': 1, '4': 1 }, maxNAtoms: 6 },
  conditioning: c,
};

/** A random complex: a ligand of `n` atoms inside a shell of 20 pocket atoms, moved by (R, t). */
function complex(rng: Rng, n: number, R?: number[][], t = [0, 0, 0]): ComplexExample {
  const move = (p: number[]): number[] => (R ? [0, 1, 2].map((r) => R[r][0] * p[0] + R[r][1] * p[1] + R[r][2] * p[2] + t[r]) : p.map((v, d) => v + t[d]));
  const lig = Array.from({ length: n }, () => [rng.normal() * 1.2, rng.normal() * 1.2, rng.normal() * 1.2]);
  const pocket = Array.from({ length: 20 }, () => [rng.normal() * 5, rng.normal() * 5, rng.normal() * 5]);
  const P = pocket.map(move);
  const origin = [0, 1, 2].map((d) => P.reduce((s, p) => s + p[d], 0) / P.length) as [number, number, number];
  return {
    ligand: { elements: lig.map((_, i) => ['C', 'N', 'O'][i % 3]), positions: Float32Array.from(lig.flatMap(move)) },
    pocket: { elements: P.map((_, i) => ['C', 'N', 'O', 'S', 'Se'][i % 5]), positions: Float64Array.from(P.flat()), origin },
  };
}

/** Rotate the position part of `[B, N, D]` host data by R. */
function rotate(a: Float32Array, D: number, R: number[][]): Float32Array {
  const out = Float32Array.from(a);
  for (let k = 0; k < a.length / D; k++) for (let r = 0; r < 3; r++) out[k * D + r] = R[r][0] * a[k * D] + R[r][1] * a[k * D + 1] + R[r][2] * a[k * D + 2];
  return out;
}

describe('pocket-conditional model', () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });

  it('pairs the development complexes with their structures', (ctx) => {
    const dir = join(SHARED, 'data', 'pockets');
    ctx.skip(!existsSync(dir), `${dir} absent: needs the development complexes`);
    const pairs = findComplexPairs(dir).map((p) => `${p.ligand.split('/').pop()} ${p.pdb.split('/').pop()}`);
    expect(pairs).toEqual([
      '1h36_A_rec_1h36_r88_lig_tt_docked_0.sdf 1h36_A_rec_1h36_r88_lig_tt_docked_0_pocket10.pdb',
      '3rfm_B_CFF.sdf 3rfm.pdb',
      '3ug2_ligand.sdf 3ug2_protein.pdb',
      '5ndu_C_8V2.sdf 5ndu.pdb',
    ]);
  });

  it('rotating and translating pocket and ligand together rotates the network output and a reverse step', () => {
    const model = makeModel(CONFIG, initParams(CONFIG.dynamics, dynamicsInputDim(CONFIG), new Rng('pm')));
    for (const reflect of [false, true]) {
      const R = randomOrthogonal(new Rng(`R${reflect}`), reflect);
      const t = [7, -3, 11];
      const base = [complex(new Rng('a'), 6), complex(new Rng('b'), 4)];
      const moved = [complex(new Rng('a'), 6, R, t), complex(new Rng('b'), 4, R, t)];
      const run = (ex: ComplexExample[]): { eps: Float32Array; zs: Float32Array; D: number } =>
        tf.tidy(() => {
          const batch = makeComplexBatch(ex, CONFIG.dataset.atomDecoder, c);
          const xh = normalizedXh(model, batch);
          const D = xh.shape[2]!;
          const eps = phi(model, xh, [0.4, 0.7], batch.graph).dataSync() as Float32Array;
          const zs = sampleZsGivenZt(model, [0.3, 0.6], [0.4, 0.7], xh, batch.graph, tf.zerosLike(xh)).dataSync() as Float32Array;
          disposeBatch(batch);
          return { eps, zs, D };
        });
      const a = run(base);
      const b = run(moved);
      expectClose(b.eps, rotate(a.eps, a.D, R), 1e-4, 1e-5, 'eps with the pocket');
      expectClose(b.zs, rotate(a.zs, a.D, R), 1e-4, 1e-5, 'z_s with the pocket');
    }
  });

  it('training lowers the loss on fixed noise, and sampling keeps the pocket fixed', async () => {
    const examples = [complex(new Rng('c'), 6), complex(new Rng('d'), 4)];
    const { model, losses } = await trainPocketModel(examples, { steps: 60, nf: 16, layers: 2, lr: 2e-3, timesteps: 50, seed: 1 });
    expect(losses).toHaveLength(60);
    const fresh = makeModel(model.config, initParams(model.config.dynamics, dynamicsInputDim(model.config), new Rng('1:init')));
    const fixedLoss = (m: typeof model): number =>
      tf.tidy(() => {
        const batch = makeComplexBatch(examples, model.config.dataset.atomDecoder, c);
        const noise = drawStepNoise(m, batch, new Rng('eval'));
        const v = trainingLoss(m, batch, noise, 6).dataSync()[0];
        disposeBatch(batch);
        return v;
      });
    expect(fixedLoss(model)).toBeLessThan(0.7 * fixedLoss(fresh));
    const ligands = sampleWithPocket(model, examples[0].pocket, { seed: 2, steps: 10, sizes: Int32Array.from([5, 3]) });
    expect(ligands.map((l) => l.elements.length)).toEqual([5, 3]);
    for (const l of ligands) expect(Array.from(l.positions).every(Number.isFinite)).toBe(true);
  });

  it('edm train --pockets writes a pocket checkpoint that edm pocket samples from', (ctx) => {
    const pockets = join(SHARED, 'data', 'pockets');
    ctx.skip(!existsSync(pockets), `${pockets} absent: needs the development complexes`);
    const dir = mkdtempSync(join(tmpdir(), 'edm-pocket-model-'));
    const edm = (args: string[]): ReturnType<typeof spawnSync> => spawnSync(process.execPath, [join(ROOT, 'bin', 'edm.js'), ...args], { cwd: dir, encoding: 'utf8' });
    const t = edm(['train', '--pockets', pockets, '--out', 'pm', '--steps', '3', '--nf', '8', '--layers', '1', '--timesteps', '20']);
    expect(t.status, String(t.stderr)).toBe(0);
    const ck = loadCheckpoint(join(dir, 'pm'));
    expect(ck.config.conditioning?.kind).toBe('pocket');
    expect(readFileSync(join(dir, 'pm', 'train-log.csv'), 'utf8').trim().split('\n')).toHaveLength(4);
    const p = edm(['pocket', '--checkpoint', 'pm', '--pdb', join(pockets, '3rfm.pdb'), '--ligand', join(pockets, '3rfm_B_CFF.sdf'), '-n', '2', '--steps', '5', '--no-dock', '--out', 'l.sdf']);
    expect(p.status, String(p.stderr)).toBe(0);
    expect(String(p.stdout)).toMatch(/guidance 0/);
    expect(readFileSync(join(dir, 'l.sdf'), 'utf8').split('$$$$').length - 1).toBe(2);
  });
});
