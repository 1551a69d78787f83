/**
 * The pocket-conditional model: pairing of complex files, E(3) equivariance of the network and of
 * a reverse step with the pocket as fixed context, training that lowers the loss, sampling that
 * leaves the pocket alone.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
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
import { initParams, type Params } from '../src/egnn/params.js';
import { type ComplexExample, makeComplexBatch } from '../src/data/complex.js';
import { DEFAULT_POCKET_CONDITIONING, findComplexPairs, sampleWithPocket } from '../src/pocket/conditional.js';
import { train } from '../src/train/trainer.js';
import { Rng } from '../src/random.js';
import { ROOT, SHARED, expectClose, when } from './helpers.js';
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

  it('the shared trainer lowers the loss on complexes, and sampling gives ligands in the protein frame', async () => {
    const examples = [complex(new Rng('c'), 6), complex(new Rng('d'), 4)];
    const dir = mkdtempSync(join(tmpdir(), 'edm-pocket-train-'));
    await train({
      outDir: dir,
      train: examples,
      valid: examples,
      datasetInfo: CONFIG.dataset,
      conditioning: c,
      dynamics: CONFIG.dynamics,
      diffusion: CONFIG.diffusion,
      batchSize: 2,
      lr: 2e-3,
      seed: 1,
      maxSteps: 60,
      validateEvery: 30,
      validSize: 2,
      workers: 0,
    });
    const ck = loadCheckpoint(dir, true);
    expect(ck.config.conditioning).toEqual(c);
    const raw: Params = {};
    for (const k of Object.keys(ck.params)) raw[k] = ck.trainState!.tensors[`param/${k}`];
    const model = makeModel(ck.config, raw);
    const fresh = makeModel(ck.config, initParams(ck.config.dynamics, dynamicsInputDim(ck.config), new Rng('1:init')));
    const fixedLoss = (m: typeof model): number =>
      tf.tidy(() => {
        const batch = makeComplexBatch(examples, ck.config.dataset.atomDecoder, c);
        const noise = drawStepNoise(m, batch, new Rng('eval'));
        const v = trainingLoss(m, batch, noise, 6).dataSync()[0];
        disposeBatch(batch);
        return v;
      });
    expect(fixedLoss(model)).toBeLessThan(0.7 * fixedLoss(fresh));
    // the validation NLL (ligand given pocket) is finite and logged
    const nlls = readFileSync(join(dir, 'train-log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((e) => e.event === 'validation').map((e) => e.nll);
    expect(nlls).toHaveLength(2);
    expect(nlls.every(Number.isFinite)).toBe(true);
    const ligands = await sampleWithPocket(model, examples[0].pocket, { seed: 2, steps: 10, sizes: Int32Array.from([5, 3]) });
    expect(ligands.map((l) => l.elements.length)).toEqual([5, 3]);
    // ligand i has its own stream: alone it is the same ligand
    const alone = await sampleWithPocket(model, examples[0].pocket, { seed: 2, steps: 10, sizes: Int32Array.from([5]) });
    expectClose(alone[0].positions, ligands[0].positions, 1e-4, 1e-4, 'ligand 1 alone and in a batch');
    for (const l of ligands) {
      // centre of mass at the pocket's origin, in the protein frame
      const com = [0, 1, 2].map((d) => l.elements.reduce((acc, _, i) => acc + l.positions[i * 3 + d], 0) / l.elements.length);
      expectClose(Float32Array.from(com), Float32Array.from(examples[0].pocket.origin), 1e-3, 1e-3, 'ligand centre');
    }
    tf.dispose([...Object.values(ck.params), ...Object.values(ck.trainState!.tensors)]);
  });

  it('edm train --pockets writes a pocket checkpoint (with a learning curve) that edm pocket samples from', (ctx) => {
    const pockets = join(SHARED, 'data', 'pockets');
    ctx.skip(!existsSync(pockets), `${pockets} absent: needs the development complexes`);
    const dir = mkdtempSync(join(tmpdir(), 'edm-pocket-model-'));
    const edm = (args: string[]): ReturnType<typeof spawnSync> => spawnSync(process.execPath, [join(ROOT, 'bin', 'edm.js'), ...args], { cwd: dir, encoding: 'utf8' });
    const t = edm(['train', '--pockets', pockets, '--out', 'pm', '--steps', '3', '--nf', '8', '--layers', '1', '--timesteps', '20', '--batch-size', '2', '--curve-every', '3', '--curve-samples', '4', '--curve-steps', '5']);
    expect(t.status, String(t.stderr)).toBe(0);
    const ck = loadCheckpoint(join(dir, 'pm'));
    expect(ck.config.conditioning?.kind).toBe('pocket');
    expect(ck.config.dynamics.normalizationFactor).toBe(100);
    const log = readFileSync(join(dir, 'pm', 'train-log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(log[0]).toMatchObject({ event: 'start', trainMolecules: 4 });
    // one curve point: 4 ligands sampled in the first 4 training pockets and scored
    const curve = log.filter((e) => e.event === 'curve');
    expect(curve).toHaveLength(1);
    expect(curve[0]).toMatchObject({ step: 3, samples: 4, sampling_steps: 5 });
    const p = edm(['pocket', '--checkpoint', 'pm', '--pdb', join(pockets, '3rfm.pdb'), '--ligand', join(pockets, '3rfm_B_CFF.sdf'), '-n', '2', '--steps', '5', '--no-dock', '--out', 'l.sdf']);
    expect(p.status, String(p.stderr)).toBe(0);
    expect(String(p.stdout)).toMatch(/guidance 0/);
    expect(readFileSync(join(dir, 'l.sdf'), 'utf8').split('$$$$').length - 1).toBe(2);
  });

  it('pocket training killed with kill -9 and resumed reproduces the uninterrupted run (ONNX Runtime)', async (ctx) => {
    const pockets = join(SHARED, 'data', 'pockets');
    ctx.skip(!existsSync(pockets), `${pockets} absent: needs the development complexes`);
    const dir = mkdtempSync(join(tmpdir(), 'edm-pocket-resume-'));
    const args = (out: string, extra: string[] = []): string[] => [join(ROOT, 'bin', 'edm.js'), 'train', '--pockets', pockets, '--out', out, '--steps', '300', '--nf', '8', '--layers', '1', '--timesteps', '20', '--batch-size', '2', '--checkpoint-every', '100', '--log-every', '1', '--backend', 'onnx', ...extra];
    const straight = spawnSync(process.execPath, args('a'), { cwd: dir, encoding: 'utf8' });
    expect(straight.status, String(straight.stderr)).toBe(0);
    // the second run is killed as soon as its first checkpoint (step 100) is written
    const child = spawn(process.execPath, args('b'), { cwd: dir, stdio: 'ignore' });
    const logFile = join(dir, 'b', 'train-log.jsonl');
    const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
    await when(() => existsSync(logFile) && readFileSync(logFile, 'utf8').includes('"event":"checkpoint"'), { folder: dir }, 'the first checkpoint');
    child.kill('SIGKILL');
    expect(await exited).toBeNull();
    const killedAt = readFileSync(logFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((e) => e.event === 'step').at(-1).step;
    expect(killedAt).toBeLessThan(300);
    const resumed = spawnSync(process.execPath, args('b', ['--resume']), { cwd: dir, encoding: 'utf8' });
    expect(resumed.status, String(resumed.stderr)).toBe(0);
    const losses = (out: string): Map<number, number> => new Map(readFileSync(join(dir, out, 'train-log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((e) => e.event === 'step').map((e) => [e.step, e.loss]));
    const [a, b] = [losses('a'), losses('b')];
    expect(a.size).toBe(300);
    // steps after the checkpoint were taken twice in run b: the resumed ones are logged last
    for (let step = 1; step <= 300; step++) expect(b.get(step), `step ${step}`).toBe(a.get(step));
    expect(readFileSync(join(dir, 'b', 'weights-step300.bin')).equals(readFileSync(join(dir, 'a', 'weights-step300.bin')))).toBe(true);
  });
});
