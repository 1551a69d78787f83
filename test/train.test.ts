/**
 * Training: the loss goes down on a tiny problem, and a resumed run continues exactly
 * (weights, EMA, optimiser moments, RNG states, position in the epoch).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '../src/backend.js';
import { EDM_QM9_DIFFUSION, EDM_QM9_DYNAMICS } from '../src/config.js';
import { datasetInfoFrom, QM9_ATOM_DECODER } from '../src/data/dataset.js';
import { loadQm9Split } from '../src/data/qm9.js';
import type { Molecule } from '../src/data/molecule.js';
import { parseXyz } from '../src/data/xyz.js';
import { train, type TrainOptions } from '../src/train/trainer.js';
import { loadCheckpoint } from '../src/checkpoint/format.js';
import { makeBatch } from '../src/data/batch.js';
import { makeModel } from '../src/diffusion/model.js';
import { lossWeightAt, trainingLoss } from '../src/diffusion/loss.js';
import { NoiseSchedule, snrOf } from '../src/diffusion/schedule.js';
import { checkLrSchedule, lrAt } from '../src/train/lr-schedule.js';
import { combinedNoise } from '../src/diffusion/noise.js';
import { initParams, type Params } from '../src/egnn/params.js';
import { Rng } from '../src/random.js';
import { HAS_SHARED, SHARED } from './helpers.js';

/** A small training set: QM9 valid molecules when ../shared is present, else hand-made ones. */
async function smallSet(): Promise<Molecule[]> {
  if (HAS_SHARED) return (await loadQm9Split(join(SHARED, 'data', 'qm9'), 'valid')).slice(0, 48);
  const water = '3\nw\nO 0 0 0\nH 0.96 0 0\nH -0.24 0.93 0\n';
  const methane = '5\nm\nC 0 0 0\nH 0.63 0.63 0.63\nH 0.63 -0.63 -0.63\nH -0.63 0.63 -0.63\nH -0.63 -0.63 0.63\n';
  return parseXyz((water + methane).repeat(24));
}

describe('training', () => {
  let mols: Molecule[];
  let base: Omit<TrainOptions, 'outDir'>;
  beforeAll(async () => {
    await initBackend('wasm');
    mols = await smallSet();
    base = {
      train: mols,
      valid: mols.slice(0, 8),
      datasetInfo: datasetInfoFrom('qm9', mols, QM9_ATOM_DECODER),
      dynamics: { ...EDM_QM9_DYNAMICS, nf: 16, nLayers: 2 },
      diffusion: EDM_QM9_DIFFUSION,
      batchSize: 8,
      lr: 1e-3,
      seed: 7,
      checkpointEvery: 4,
      validateEvery: 5,
      validSize: 8,
      // gradients in this thread: quicker for tiny models; the CLI tests cover 1 and 2 workers
      workers: 0,
    };
  });

  it('resumes exactly: losses after a stop equal those of an uninterrupted run', async () => {
    const root = mkdtempSync(join(tmpdir(), 'edm-train-'));
    const straight: number[] = [];
    await train({ ...base, outDir: join(root, 'a'), maxSteps: 10, onStep: (s) => straight.push(s.loss) });
    const first: number[] = [];
    // run 7 steps (last checkpoint at step 4 would be the state after a kill -9 at step 7;
    // here the run stops cleanly at step 7 and writes a checkpoint there), then resume
    await train({ ...base, outDir: join(root, 'b'), maxSteps: 7, onStep: (s) => first.push(s.loss) });
    const resumed: number[] = [];
    await train({ ...base, outDir: join(root, 'b'), maxSteps: 10, resume: true, onStep: (s) => resumed.push(s.loss) });
    expect(straight).toHaveLength(10);
    expect([...first, ...resumed]).toEqual(straight);
    // 10 steps of 8 molecules over 48 molecules cross an epoch boundary (6 batches per epoch)
    expect(straight.every(Number.isFinite)).toBe(true);
  });

  it('learns: after 60 steps the loss at t = T (where eps ~ z_T) is far below the initial model\'s', async () => {
    const root = mkdtempSync(join(tmpdir(), 'edm-learn-'));
    await train({ ...base, outDir: join(root, 'l'), maxSteps: 60, lr: 3e-3, batchSize: 16, validateEvery: 0 });
    const ck = loadCheckpoint(join(root, 'l'), true);
    const raw: Params = {};
    for (const k of Object.keys(ck.params)) raw[k] = ck.trainState!.tensors[`param/${k}`];
    const fresh = initParams(base.dynamics, 7, new Rng('7:init'));
    const batch = makeBatch(mols.slice(0, 16), QM9_ATOM_DECODER);
    const N = batch.graph.hostNodeMask.length / 16;
    const noise = { tInt: new Int32Array(16).fill(1000), eps: combinedNoise(new Rng('fixed'), batch.nNodes, N, 6) };
    const lossOf = (p: Params) => trainingLoss(makeModel(ck.config, p), batch, noise, 29).dataSync()[0];
    const before = lossOf(fresh);
    const after = lossOf(raw);
    expect(after).toBeLessThan(0.5 * before);
    // and the EMA weights moved away from the initial ones too
    expect(Array.from(ck.params['embedding.weight'].dataSync())).not.toEqual(Array.from(fresh['embedding.weight'].dataSync()));
  });

  it('keeps the tensor count flat over steps, and frees every tensor on return and when a step throws', async () => {
    const root = mkdtempSync(join(tmpdir(), 'edm-train-leak-'));
    const before = tf.memory().numTensors;
    const counts: number[] = [];
    // steps 4 and 5 write a checkpoint and run the validation NLL
    await train({ ...base, outDir: join(root, 'a'), maxSteps: 8, onStep: () => counts.push(tf.memory().numTensors) });
    expect(counts).toHaveLength(8);
    expect(new Set(counts).size).toBe(1);
    expect(tf.memory().numTensors).toBe(before);
    const failing = train({
      ...base,
      outDir: join(root, 'b'),
      maxSteps: 8,
      onStep: (s) => {
        if (s.step === 3) throw new Error('a callback failed at step 3');
      },
    });
    await expect(failing).rejects.toThrow('a callback failed at step 3');
    expect(tf.memory().numTensors).toBe(before);
  });

  it('rejects impossible options', async () => {
    await expect(train({ ...base, outDir: '/tmp/x', batchSize: 0, maxSteps: 1 })).rejects.toThrow(/--batch-size must be a positive integer, got 0/);
    await expect(train({ ...base, outDir: '/tmp/x', train: [], maxSteps: 1 })).rejects.toThrow(/empty/);
    await expect(train({ ...base, outDir: '/tmp/x' })).rejects.toThrow(/say when to stop: --steps, --epochs or --hours/);
    await expect(train({ ...base, outDir: '/tmp/x', hours: 1, lrSchedule: 'cosine' })).rejects.toThrow(/cosine decays to the last step: give --steps or --epochs/);
    await expect(train({ ...base, outDir: '/tmp/x', maxSteps: 4, lrSchedule: 'cosine', warmupSteps: 4 })).rejects.toThrow(/--warmup-steps 4: must be an integer from 0 to 3/);
    await expect(train({ ...base, outDir: '/tmp/x', maxSteps: 4, warmupSteps: 2 })).rejects.toThrow(/belong to --lr-schedule cosine/);
    await expect(train({ ...base, outDir: '/tmp/x', maxSteps: 4, lossWeighting: { kind: 'min-snr', gamma: 0 } })).rejects.toThrow(/--snr-gamma must be/);
    await expect(train({ ...base, outDir: '/tmp/x', maxSteps: 4, resume: true, from: '/tmp/y' })).rejects.toThrow(/give one of them/);
  });

  it('never starts a new run over an existing one, and a branch is written beside its parent, not over it', async () => {
    const root = mkdtempSync(join(tmpdir(), 'edm-train-guard-'));
    await train({ ...base, outDir: join(root, 'a'), maxSteps: 2, validateEvery: 0 });
    const log = readFileSync(join(root, 'a', 'train-log.jsonl'), 'utf8');
    await expect(train({ ...base, outDir: join(root, 'a'), maxSteps: 2 })).rejects.toThrow(/already holds a run \(config.json\): --resume continues it/);
    await expect(train({ ...base, outDir: join(root, 'a'), maxSteps: 4, from: join(root, 'a') })).rejects.toThrow(/already holds a run/);
    await expect(train({ ...base, outDir: join(root, 'b'), maxSteps: 4, from: join(root, 'a', '.') + '/' })).resolves.toMatchObject({ step: 4 });
    expect(readFileSync(join(root, 'a', 'train-log.jsonl'), 'utf8')).toBe(log);
    // a checkpoint of EDM's 'vlb' loss is refused, not silently trained with L2
    const cfgPath = join(root, 'b', 'config.json');
    writeFileSync(cfgPath, readFileSync(cfgPath, 'utf8').replace('"lossType": "l2"', '"lossType": "vlb"'));
    await expect(train({ ...base, outDir: join(root, 'b'), maxSteps: 6, resume: true })).rejects.toThrow(/trained with EDM's 'vlb' loss; edm train implements the 'l2' loss only/);
  });

  it('min-SNR-gamma weights are min(SNR, gamma) / SNR of the schedule; uniform is 1', () => {
    const schedule = new NoiseSchedule(1000, 'polynomial_2', 1e-5);
    for (const t of [0, 0.01, 0.1, 0.3, 0.5, 0.7, 0.9, 1]) {
      const g = schedule.gammaAt(t);
      const snr = snrOf(g);
      for (const gamma of [1.5, 5]) expect(lossWeightAt({ kind: 'min-snr', gamma }, g)).toBeCloseTo(Math.min(snr, gamma) / snr, 12);
      expect(lossWeightAt({ kind: 'uniform' }, g)).toBe(1);
    }
    // low noise (SNR >> gamma) is down-weighted, high noise (SNR < gamma) keeps weight 1
    expect(lossWeightAt({ kind: 'min-snr', gamma: 5 }, schedule.gammaAt(0.05))).toBeLessThan(0.05);
    expect(lossWeightAt({ kind: 'min-snr', gamma: 5 }, schedule.gammaAt(0.9))).toBe(1);
  });

  it('a cosine schedule warms up linearly, passes the midpoint at the mean rate and ends at the final rate', () => {
    const cosine = { kind: 'cosine', startStep: 100, endStep: 210, warmupSteps: 10, finalLr: 1e-5 } as const;
    const s = checkLrSchedule(cosine, 1e-3);
    expect(lrAt(s, 1e-3, 100)).toBeCloseTo(1e-4, 15);
    expect(lrAt(s, 1e-3, 109)).toBeCloseTo(1e-3, 15);
    expect(lrAt(s, 1e-3, 110)).toBeCloseTo(1e-3, 15);
    expect(lrAt(s, 1e-3, 160)).toBeCloseTo((1e-3 + 1e-5) / 2, 15);
    expect(lrAt(s, 1e-3, 210)).toBeCloseTo(1e-5, 15);
    expect(lrAt(s, 1e-3, 500)).toBeCloseTo(1e-5, 15);
    expect(lrAt({ kind: 'constant' }, 1e-3, 160)).toBe(1e-3);
    expect(() => checkLrSchedule({ ...cosine, finalLr: 2e-3 }, 1e-3)).toThrow(/--final-lr 0.002: must be between 0 and --lr 0.001/);
  });

  it('a branch continues its parent exactly; with min-SNR and a cosine schedule it resumes exactly and logs the scheduled rates', async () => {
    const root = mkdtempSync(join(tmpdir(), 'edm-branch-'));
    const q = { ...base, validateEvery: 0, logEvery: 1 };
    await train({ ...q, outDir: join(root, 'p'), maxSteps: 4 });
    const from = join(root, 'p');
    // a branch that changes nothing is the parent's continuation, bit for bit (seed taken from the parent)
    const same: number[] = [];
    const steps: number[] = [];
    await train({ ...q, seed: 99, lr: undefined, outDir: join(root, 'same'), maxSteps: 8, from, onStep: (s) => (same.push(s.loss), steps.push(s.step)) });
    // the changed recipe: straight, and stopped at step 8 then resumed
    const recipe = { lossWeighting: { kind: 'min-snr', gamma: 1.5 } as const, lrSchedule: 'cosine' as const, warmupSteps: 2, finalLr: 1e-5, lr: 2e-3 };
    const straight: number[] = [];
    await train({ ...q, ...recipe, outDir: join(root, 'c'), maxSteps: 12, from, onStep: (s) => straight.push(s.loss) });
    const split: number[] = [];
    // stopped at step 8 (as by Ctrl-C) of a run to step 12, then resumed
    const stopSignal = { stop: false };
    await train({ ...q, ...recipe, outDir: join(root, 'd'), maxSteps: 12, from, stopSignal, onStep: (s) => (split.push(s.loss), (stopSignal.stop = s.step === 8)) });
    expect(split).toHaveLength(4);
    // resuming keeps the saved recipe (schedule over steps 4-12, weighting) whatever is asked now
    await train({ ...q, outDir: join(root, 'd'), maxSteps: 12, resume: true, onStep: (s) => split.push(s.loss) });
    // the parent, resumed, gives what the unchanged branch gave
    const parent: number[] = [];
    await train({ ...q, outDir: join(root, 'p'), maxSteps: 8, resume: true, onStep: (s) => parent.push(s.loss) });
    expect(steps).toEqual([5, 6, 7, 8]);
    expect(same).toEqual(parent);
    expect(straight).toHaveLength(8);
    expect(split).toEqual(straight);
    expect(straight.slice(0, 4)).not.toEqual(parent);
    const logged = readFileSync(join(root, 'c', 'train-log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(logged[0]).toMatchObject({ event: 'branch', step: 4, recipe: expect.stringContaining('min-SNR gamma 1.5, cosine lr to 0.00001 over steps 4-12, 2 warm-up') });
    const schedule = { kind: 'cosine' as const, startStep: 4, endStep: 12, warmupSteps: 2, finalLr: 1e-5 };
    const rates = logged.filter((e) => e.event === 'step').map((e) => [e.step, e.lr]);
    expect(rates.length).toBeGreaterThan(0);
    for (const [step, lr] of rates) expect(lr).toBeCloseTo(lrAt(schedule, 2e-3, step - 1), 15);
    const ck = loadCheckpoint(join(root, 'c'), true);
    expect((ck.trainState!.state as { options: unknown }).options).toMatchObject({ lr: 2e-3, lossWeighting: { kind: 'min-snr', gamma: 1.5 }, lrSchedule: schedule, batchSize: 8 });
  });
});
