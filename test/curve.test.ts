/**
 * Data-parallel gradients (shards combine to the whole batch's gradient, whatever order they
 * finish in), the learning-curve file and picture, and the training reference stored in a
 * checkpoint.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync, strToU8 } from 'fflate';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend.js';
import { parseXyz } from '../src/data/xyz.js';
import { makeModel } from '../src/diffusion/model.js';
import { initParams } from '../src/egnn/params.js';
import { CHECKPOINT_REFERENCE_FILE, computeReference, loadReference, saveReference } from '../src/metrics/reference.js';
import { curveSvg } from '../src/report/curve-plot.js';
import { curveSlope, projectCurve } from '../src/report/curve-projection.js';
import { type CurveRow, OWN_BOND_CURVE_COLUMNS, isBest, readCurve, writeCurve } from '../src/report/curve-data.js';
import { writeTrainingReport } from '../src/train/report.js';
import { exampleNodes } from '../src/data/examples.js';
import { ShardGradients, combineShards, flatten, makeShardTasks, paramOrder, splitShards } from '../src/train/gradients.js';
import { Rng } from '../src/random.js';
import { TINY, expectClose } from './helpers.js';

const WATER = '3\nw\nO 0 0 0\nH 0.96 0 0\nH -0.24 0.93 0\n';
const METHANE = '5\nm\nC 0 0 0\nH 0.63 0.63 0.63\nH 0.63 -0.63 -0.63\nH -0.63 0.63 -0.63\nH -0.63 -0.63 0.63\n';

describe('data-parallel gradients', () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });

  it('splits a batch into near-equal contiguous shards', () => {
    expect(splitShards([1, 2, 3, 4, 5], 2)).toEqual([[1, 2, 3], [4, 5]]);
    expect(splitShards([1, 2], 4)).toEqual([[1], [2]]);
    expect(splitShards([1, 2, 3], 1)).toEqual([[1, 2, 3]]);
  });

  it('the size-weighted sum of shard gradients is the gradient of the whole batch, in any finishing order', () => {
    const mols = parseXyz((WATER + METHANE).repeat(3)).slice(0, 5);
    const params = initParams(TINY.dynamics, 7, new Rng('grads'));
    const model = makeModel(TINY, params);
    const grads = new ShardGradients(TINY, params);
    grads.setWeights(flatten(params, paramOrder(params)));
    const whole = makeShardTasks(model, mols, 1, new Rng('noise'));
    const split = makeShardTasks(model, mols, 2, new Rng('noise'));
    // shard noise is drawn shard by shard, so feed the whole batch the concatenation of it
    const N = Math.max(...mols.map((m) => m.elements.length));
    const D = 9;
    const eps = new Float32Array(mols.length * N * D);
    let row = 0;
    for (const t of split) {
      const n = Math.max(...t.examples.map(exampleNodes));
      for (let b = 0; b < t.examples.length; b++, row++) {
        for (let i = 0; i < n; i++) for (let d = 0; d < D; d++) eps[(row * N + i) * D + d] = t.noise.eps[(b * n + i) * D + d];
      }
    }
    whole[0].noise = { tInt: Int32Array.from(split.flatMap((t) => [...t.noise.tInt])), eps };
    const full = grads.compute(whole[0], 29);
    const results = split.map((t) => grads.compute(t, 29));
    const combined = combineShards(results, split.map((t) => t.examples.length));
    expectClose(combined.grad, full.grad, 2e-5, 0, 'combined shard gradient');
    expect(combined.loss).toBeCloseTo(full.loss, 6);
    const reversed = combineShards([...results].reverse(), split.map((t) => t.examples.length));
    expect(Buffer.from(reversed.grad.buffer).equals(Buffer.from(combined.grad.buffer))).toBe(true);
    grads.dispose();
    tf.dispose(Object.values(params));
  });
});

describe('learning curve', () => {
  const row = (step: number, mol: number, atom: number): CurveRow => ({
    step, epoch: step / 100, cpu_hours: step / 1000, wall_hours: step / 2000, atom_stability: atom, molecule_stability: mol,
    validity: 0.5, uniqueness: 0.9, connected_validity: 0.4, valid_nll: 100 - step / 10, samples: 200, sampling_steps: 500, probe_seconds: 12.5,
  });

  it('writes and reads curve.csv, and picks the best point by molecule then atom stability', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'edm-curve-')), 'curve.csv');
    const rows = [row(100, 0.1, 0.8), row(200, 0.3, 0.85)];
    writeCurve(path, rows);
    const back = readCurve(path);
    expect(back.map((r) => r.step)).toEqual([100, 200]);
    expect(back[1].molecule_stability).toBeCloseTo(0.3, 6);
    expect(back[1].valid_nll).toBeCloseTo(80, 4);
    expect(isBest(row(300, 0.3, 0.9), back)).toBe(true);
    expect(isBest(row(300, 0.3, 0.8), back)).toBe(false);
    expect(isBest(row(300, 0.2, 0.99), back)).toBe(false);
    expect(readCurve(join(path, '..', 'absent.csv'))).toEqual([]);
    writeFileSync(path, 'step,epoch\n1,2,3\n');
    expect(() => readCurve(path)).toThrow(/curve\.csv:2: 3 cells, expected 2/);
  });

  it('projects a curve to a bar on its latest, steepest and overall least-squares slopes', () => {
    // row(step) puts a point at step / 1000 CPU-hours: a rise of 10 points per CPU-hour to 2
    // CPU-hours, then flat at 0.3 with one noisy point.
    const rows = [row(0, 0.1, 0.8), row(1000, 0.2, 0.8), row(2000, 0.3, 0.8), row(3000, 0.3, 0.8), row(4000, 0.32, 0.8), row(5000, 0.28, 0.8)];
    const line = curveSlope(rows.slice(0, 3), 'molecule_stability');
    expect(line.perCpuHour).toBeCloseTo(0.1, 12);
    expect(line.level).toBeCloseTo(0.3, 12);
    expect([line.fromStep, line.toStep, line.fromCpuHours, line.toCpuHours]).toEqual([0, 2000, 0, 2]);
    const p = projectCurve(rows, 'molecule_stability', 0.5, 3);
    expect(p.steepest.fromStep).toBe(0);
    expect(p.steepest.perCpuHour).toBeCloseTo(0.1, 12);
    expect(p.latest.fromStep).toBe(3000);
    expect(p.latest.perCpuHour).toBeCloseTo(-0.01, 12); // (0.28 - 0.3) / 2 CPU-hours
    expect(p.latest.level).toBeCloseTo(0.3 - 0.01, 12); // mean 0.3 at 4 CPU-hours, one hour on
    expect(p.toBarOnLatest).toBe(Infinity);
    expect(p.toBarOnSteepest).toBeCloseTo((0.5 - 0.29) / 0.1, 10);
    expect(p.overall.perCpuHour).toBeGreaterThan(0);
    expect(p.toBarOnOverall).toBeCloseTo((0.5 - 0.29) / p.overall.perCpuHour, 10);
    expect(projectCurve(rows, 'molecule_stability', 0.25, 3).toBarOnLatest).toBe(0);
    expect(p.value).toBe(0.28);
    expect(() => projectCurve(rows.slice(0, 2), 'molecule_stability', 0.5, 3)).toThrow(/2 curve point\(s\), the window needs 3/);
    expect(() => projectCurve(rows, 'molecule_stability', 0.5, 1)).toThrow(/window 1 must be an integer >= 2/);
    expect(() => curveSlope([row(1000, 0.1, 0.8), row(1000, 0.2, 0.8)], 'molecule_stability')).toThrow(/every point is at 1 CPU-hours/);
  });

  it("writes a bond-aware model's own-bond columns only when a row has them, NaN before it had bonds", () => {
    const path = join(mkdtempSync(join(tmpdir(), 'edm-curve-')), 'curve.csv');
    writeCurve(path, [row(100, 0.1, 0.8)]);
    expect(readFileSync(path, 'utf8').split('\n')[0].split(',')).toHaveLength(13);
    const own = { ...row(200, 0.3, 0.85), own_atom_stability: 0.9, own_molecule_stability: 0.4, own_validity: 0.7, own_connected_validity: 0.6 };
    writeCurve(path, [row(100, 0.1, 0.8), own]);
    expect(readFileSync(path, 'utf8').split('\n')[0].split(',').slice(13)).toEqual([...OWN_BOND_CURVE_COLUMNS]);
    const back = readCurve(path);
    expect(back[0].own_molecule_stability).toBeNaN();
    expect(back[1].own_molecule_stability).toBeCloseTo(0.4, 6);
    expect(back[1].own_connected_validity).toBeCloseTo(0.6, 6);
  });

  it('draws the curve as an SVG with both x-axes', async () => {
    const svg = await curveSvg([row(100, 0.1, 0.8), row(200, 0.3, 0.85)], 'test run');
    expect(svg).toMatch(/^<svg/);
    for (const text of ['CPU-hours of training', 'epochs', 'molecule stability', 'validation NLL', 'test run']) expect(svg).toContain(text);
    await expect(curveSvg([], 'x')).rejects.toThrow(/no rows/);
    // a bond-aware model's curve draws its own-bond lines too; an EDM model's has none
    expect(svg).not.toContain('own bonds');
    const bonds = await curveSvg([{ ...row(100, 0.1, 0.8), own_atom_stability: 0.9, own_molecule_stability: 0.2, own_validity: 0.7, own_connected_validity: 0.6 }], 'bonds');
    expect(bonds).toContain('molecule stability, own bonds');
  });

  it('the training report draws the trial arms kept in trials/ beside the run against CPU-hours', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'edm-arms-'));
    writeCurve(join(dir, 'curve.csv'), [row(100, 0.1, 0.8), row(200, 0.3, 0.85)]);
    mkdirSync(join(dir, 'trials'));
    writeCurve(join(dir, 'trials', 'min-snr-5.csv'), [row(300, 0.35, 0.9)]);
    writeCurve(join(dir, 'trials', 'cosine.csv'), [row(300, 0.31, 0.88)]);
    await writeTrainingReport(dir, 'arms', []);
    const html = readFileSync(join(dir, 'report.html'), 'utf8');
    expect(html).toContain('Trials: the fixed sample set against CPU-hours');
    // one legend entry per arm and the run itself
    for (const arm of ['this run', 'min-snr-5', 'cosine']) expect(html).toContain(`>${arm}</text>`);
  });
});

describe('training reference stored in a checkpoint', () => {
  it('round-trips the SMILES, and refuses one made by another pipeline version', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'edm-ref-'));
    const ref = await computeReference(parseXyz(WATER + METHANE), 'two.xyz', 'k');
    await saveReference(dir, ref);
    const back = loadReference(dir);
    expect('missing' in back).toBe(false);
    if (!('missing' in back)) {
      expect([...back.smiles].sort()).toEqual([...ref.smiles].sort());
      expect(back.smiles.size).toBe(2);
      expect(back.source).toMatch(/^two\.xyz \(stored in/);
    }
    writeFileSync(join(dir, CHECKPOINT_REFERENCE_FILE), gzipSync(strToU8(JSON.stringify({ pipelineVersion: 'old', smiles: [] }))));
    expect(loadReference(dir)).toEqual({ missing: expect.stringMatching(/made by pipeline old/) });
    expect(loadReference(join(dir, 'none'))).toEqual({ missing: expect.stringMatching(/has no train-reference/) });
  });
});
