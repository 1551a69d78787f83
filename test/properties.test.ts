/**
 * Property conditioning (issue 42): the xtb labels (the committed file against xtb itself), the
 * labels file, EDM's normalisation and size-conditional draws, the baselines, the network with a
 * property context (E(3) x S_N), a model grown from an unconditional one, exact resume of a
 * conditional run, and sampling with `condition` (values by molecule, checks, SDF fields).
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../src/backend.js';
import { loadCheckpoint } from '../src/checkpoint/format.js';
import { EDM_QM9_DIFFUSION, EDM_QM9_DYNAMICS, type EdmConfig, type PropertyConditioning, dynamicsInputDim, featureDim, validateConfig } from '../src/config.js';
import { QM9_ATOM_DECODER, datasetInfoFrom } from '../src/data/dataset.js';
import { makeTrainingBatch } from '../src/data/examples.js';
import type { Molecule } from '../src/data/molecule.js';
import { parseXyz } from '../src/data/xyz.js';
import { formatSdf } from '../src/data/sdf.js';
import { loadQm9Split } from '../src/data/qm9.js';
import { makeModel, phi } from '../src/diffusion/model.js';
import { initParams } from '../src/egnn/params.js';
import { generate } from '../src/generate/run.js';
import { planSampling } from '../src/generate/plan.js';
import { makeGraph } from '../src/graph/graph.js';
import { baselineErrors, electronCount, propertyErrors, targetsOf } from '../src/properties/check.js';
import { buildPropertyConditioning, drawProperty, meanMad, propertyHistograms } from '../src/properties/conditioning.js';
import { propertyContext } from '../src/data/properties.js';
import { DEFAULT_LABELS } from '../src/train/conditioned.js';
import { gdbId, readLabels, writeLabels } from '../src/properties/labels.js';
import { parseXtbOutput, runXtb, xtbVersion } from '../src/properties/xtb.js';
import { Rng } from '../src/random.js';
import { predictProperty, regressorMae } from '../src/properties/regressor.js';
import { train } from '../src/train/trainer.js';
import { expectEquivariant } from './equivariance.js';
import { NO_SHARED_REASON, ROOT, SHARED, when } from './helpers.js';

const QM9_DIR = join(SHARED, 'data', 'qm9');
const XYZ = [
  '9\ngdb 1001\nC -0.0014 -0.4573 0.0000\nC 1.2387 0.4272 0.0000\nO -1.1760 0.3545 0.0000\nH -0.0267 -1.1067 0.8780\nH -0.0267 -1.1067 -0.8780\nH 1.2629 1.0639 0.8854\nH 1.2629 1.0639 -0.8854\nH 2.1449 -0.1809 0.0000\nH -1.9521 -0.2175 0.0000\n',
  '7\ngdb 1002\nC 0.0519 0.7044 0.0000\nN 0.0519 -0.7582 0.0000\nH -0.9710 1.0938 0.0000\nH 0.5668 1.0681 0.8836\nH 0.5668 1.0681 -0.8836\nH -0.4556 -1.0508 0.8133\nH -0.4556 -1.0508 -0.8133\n',
  '3\ngdb 1003\nH 0 0 -1.6\nC 0 0 -0.53\nN 0 0 0.62\n',
  '3\ngdb 1004\nO 0 0 0\nH 0.96 0 0\nH -0.24 0.93 0\n',
].join('');

/** Four small molecules with a gap and an alpha each. */
function labelled(): Molecule[] {
  return parseXyz(XYZ).map((m, i) => ({ ...m, properties: { gap: [7.1, 6.3, 8.2, 9.0][i], alpha: [32.1, 28.4, 15.2, 8.3][i] } }));
}

function conditionedConfig(c: PropertyConditioning, mols: Molecule[]): EdmConfig {
  return {
    format: 'edm-ts-checkpoint',
    version: 5,
    dynamics: { ...EDM_QM9_DYNAMICS, nf: 16, nLayers: 2, contextNodeNf: c.properties.length },
    diffusion: { ...EDM_QM9_DIFFUSION, timesteps: 100 },
    dataset: datasetInfoFrom('qm9', mols, QM9_ATOM_DECODER),
    conditioning: c,
  };
}

beforeAll(async () => {
  await initBackend('wasm');
});

describe('xtb labels', () => {
  it('the committed labels are what xtb gives three QM9 molecules now', async (ctx) => {
    if (!(await xtbVersion())) return ctx.skip('needs the xtb program (apt-get install xtb), which is not installed');
    if (!existsSync(QM9_DIR)) return ctx.skip(NO_SHARED_REASON);
    if (!existsSync(DEFAULT_LABELS)) throw new Error(`the committed labels ${DEFAULT_LABELS} are missing`);
    const labels = readLabels(DEFAULT_LABELS);
    const valid = await loadQm9Split(QM9_DIR, 'valid');
    // a tiny, a mid-sized and one of the largest molecules
    const mols = [valid[0], valid[Math.floor(valid.length / 2)], valid.reduce((a, b) => (b.elements.length > a.elements.length ? b : a))];
    for (const m of mols) {
      const r = await runXtb(m);
      if ('error' in r) throw new Error(`xtb failed on ${m.name}: ${r.error}`);
      const row = labels.values.get(gdbId(m.name)!)!;
      expect(row, m.name).toBeDefined();
      labels.columns.forEach((c, k) => expect(Math.abs(r[c] - row[k]), `${m.name} ${c}`).toBeLessThan(1e-3 * Math.max(1, Math.abs(row[k]))));
    }
    expect(labels.provenance.join('\n')).toMatch(/xtb version 6\.\d+\.\d+/);
  }, 120_000);

  it('edm evaluate --properties: MAE against the target fields; Ctrl-C stops xtb, leaves no temporary folder and writes nothing', async (ctx) => {
    if (!(await xtbVersion())) return ctx.skip('needs the xtb program (apt-get install xtb), which is not installed');
    const dir = mkdtempSync(join(tmpdir(), 'edm-xtb-cli-'));
    const tmp = join(dir, 'tmp');
    mkdirSync(tmp);
    const mols = parseXyz(XYZ).slice(0, 2);
    writeFileSync(join(dir, 'two.sdf'), formatSdf(mols.map((m, i) => ({ ...m, properties: { target_gap: 5 + i } }))));
    const env = { ...process.env, TMPDIR: tmp };
    const ok = spawnSync(process.execPath, [join(ROOT, 'bin', 'edm.js'), 'evaluate', join(dir, 'two.sdf'), '--properties', '--no-train', '--properties-csv', join(dir, 'p.csv')], { encoding: 'utf8', env, timeout: 120_000 });
    expect(ok.status, ok.stderr).toBe(0);
    const rows = readFileSync(join(dir, 'p.csv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split(','));
    const gaps = rows.map((r) => Number(r[7]));
    expect(ok.stdout).toMatch(new RegExp(`gap +MAE ${((Math.abs(5 - gaps[0]) + Math.abs(6 - gaps[1])) / 2).toFixed(3)} eV over 2 of 2`));
    // the stable ones of the line are the CSV's molecule_stable rows
    expect(readFileSync(join(dir, 'p.csv'), 'utf8').split('\n')[0].split(',').slice(-2)).toEqual(['molecule_stable', 'status']);
    const stableRows = rows.filter((r) => r[r.length - 2] === '1').length;
    expect(ok.stdout).toMatch(new RegExp(`over 2 of 2 molecules that asked for it; correlation of asked and computed (-?\\d\\.\\d\\d|n/a); the molecule-stable ones: MAE (\\d+\\.\\d{3}|n/a) eV over ${stableRows}\n`));
    // many molecules, stopped after a second
    writeFileSync(join(dir, 'many.sdf'), formatSdf(Array.from({ length: 3000 }, (_, i) => ({ ...mols[i % 2], properties: { target_gap: 5 } }))));
    const child = spawn(process.execPath, [join(ROOT, 'bin', 'edm.js'), 'evaluate', join(dir, 'many.sdf'), '--properties', '--no-train', '--properties-csv', join(dir, 'q.csv')], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => (err += String(d)));
    // once xtb runs (its first folder), stop it
    await when(() => readdirSync(tmp).some((f) => f.startsWith('edm-xtb-')), { folder: tmp }, 'the first xtb run');
    child.kill('SIGINT');
    const code = await new Promise<number | null>((r) => child.once('exit', r));
    expect(code, err).toBe(130);
    expect(err).toMatch(/interrupted \(SIGINT\): the xtb runs were stopped/);
    expect(readdirSync(tmp)).toEqual([]);
    expect(existsSync(join(dir, 'q.csv'))).toBe(false);
  }, 120_000);

  it('an xtb output without a property is refused, naming it', () => {
    expect(() => parseXtbOutput('| HOMO-LUMO GAP 3.0 eV |\n -11.2 (HOMO)\n')).toThrow(/no lumo/);
  });

  it('labels files round-trip and bad ones are refused with file and line', () => {
    const dir = mkdtempSync(join(tmpdir(), 'edm-labels-'));
    const path = join(dir, 'l.csv.gz');
    const values = new Map([[7, Float64Array.from([4.5, 70.25])], [3, Float64Array.from([6.25, 30.5])]]);
    writeLabels(path, { columns: ['gap', 'alpha'], values, provenance: ['made here'] });
    const back = readLabels(path);
    expect(back.columns).toEqual(['gap', 'alpha']);
    expect([...back.values.keys()]).toEqual([3, 7]);
    expect(Array.from(back.values.get(7)!)).toEqual([4.5, 70.25]);
    expect(back.provenance).toEqual(['made here']);
    const bad = (text: string, re: RegExp): void => {
      writeFileSync(join(dir, 'b.csv'), text);
      expect(() => readLabels(join(dir, 'b.csv'))).toThrow(re);
    };
    bad('id,gap\n1,abc\n', /b\.csv:2: gap "abc" is not a number/);
    bad('id,gap\n1,2\n1,3\n', /b\.csv:3: id 1 appears twice/);
    bad('id,weight\n1,2\n', /unknown property column "weight"/);
    bad('gap\n1\n', /must start with "id"/);
  });
});

describe('EDM normalisation, draws and baselines', () => {
  it('mean and mean absolute deviation', () => {
    expect(meanMad([1, 2, 3, 6])).toEqual({ mean: 3, mad: 1.5 });
  });

  it('draws follow the histogram of the molecule size and stay in its range', () => {
    const pairs: Array<[number, number]> = [];
    const rng = new Rng('pairs');
    for (let i = 0; i < 4000; i++) pairs.push([9, 2 + rng.uniform() * 2], [12, 5 + 3 * rng.uniform() ** 2]);
    const hist = propertyHistograms(pairs, 20);
    expect(hist['9'].counts.reduce((s, v) => s + v, 0)).toBe(4000);
    const p = { name: 'gap', unit: 'eV', mean: 0, mad: 1, range: [2, 8] as [number, number], distribution: hist };
    const draws = Array.from({ length: 20_000 }, () => drawProperty(p, 12, rng));
    expect(Math.min(...draws)).toBeGreaterThanOrEqual(hist['12'].min);
    expect(Math.max(...draws)).toBeLessThanOrEqual(hist['12'].max);
    // 5 + 3 u^2 has mean 6, not the range's middle 6.5: the draws follow the counts
    const mean = draws.reduce((s, v) => s + v, 0) / draws.length;
    expect(Math.abs(mean - 6)).toBeLessThan(0.05);
    expect(() => drawProperty(p, 30, rng)).toThrow(/no training molecules of 30 atoms/);
  });

  it('the context holds each normalised value on real atoms only', () => {
    const c = buildPropertyConditioning(['gap', 'alpha'], { gap: 'eV', alpha: 'bohr^3' }, labelled(), labelled());
    const ctx = propertyContext(c, [c.properties[0].mean + c.properties[0].mad, 20, 0, 0], [2, 1], 3);
    expect(ctx[0]).toBeCloseTo(1, 6);
    expect(ctx[2]).toBeCloseTo(1, 6);
    expect(ctx[1]).toBeCloseTo((20 - c.properties[1].mean) / c.properties[1].mad, 5);
    expect(Array.from(ctx.subarray(4, 6))).toEqual([0, 0]);
    expect(ctx[6]).not.toBe(0);
    expect(Array.from(ctx.subarray(8))).toEqual([0, 0, 0, 0]);
  });

  it('#Atoms and Naive baselines: a value drawn for the atom count, a shuffled value', () => {
    const rng = new Rng('baselines');
    // values 10 n + u: knowing n leaves only u's spread; the shuffled value also misses n's
    const mols = Array.from({ length: 4000 }, () => {
      const n = rng.int(5, 9);
      return { n, value: 10 * n + rng.uniform() };
    });
    const p = { name: 'gap', unit: 'eV', mean: 0, mad: 1, range: [50, 100] as [number, number], distribution: propertyHistograms(mols.map((m) => [m.n, m.value]), 50) };
    const b = baselineErrors(mols, p, new Rng('draws'));
    // |u - u'| for two uniform values: 1/3
    expect(Math.abs(b.atoms - 1 / 3)).toBeLessThan(0.02);
    // |10 (n - n') + u - u'| for n, n' uniform over 5..9: mean of 10|n - n'| is 16, plus a little
    expect(b.naive).toBeGreaterThan(15.5);
    expect(b.naive).toBeLessThan(17.5);
  });

  it('checks score closed-shell molecules against their targets', () => {
    const mols = parseXyz(XYZ).map((m, i) => ({ ...m, properties: { target_gap: 5, ...(i === 0 ? { target_mu: 1 } : {}) } }));
    expect(electronCount(mols[0])).toBe(26);
    expect(targetsOf(mols[0])).toEqual({ gap: 5, mu: 1 });
    const props = (gap: number) => ({ properties: { gap, homo: 0, lumo: 0, mu: 3, alpha: 0 } });
    const e = propertyErrors(mols, [props(6), props(3), { skipped: 'open shell' }, { failed: 'x' }]);
    // every molecule asked 5 eV: no spread, no correlation to speak of
    expect(e).toEqual([
      { property: 'gap', asked: 4, computed: 2, mae: 1.5, correlation: NaN },
      { property: 'mu', asked: 1, computed: 1, mae: 2, correlation: NaN },
    ]);
    // asked 2, 4, 6, 8 and computed 3, 4, 8, 7: r = 16 / sqrt(20 x 17) = 0.868; the stable ones are 1 and 3
    const asked = mols.map((m, i) => ({ ...m, properties: { target_gap: 2 + 2 * i } }));
    const got = [3, 4, 8, 7].map(props);
    const [gap] = propertyErrors(asked, got, [true, false, true, false]);
    expect(gap.mae).toBeCloseTo((1 + 0 + 2 + 1) / 4, 12);
    expect(gap.correlation).toBeCloseTo(16 / Math.sqrt(20 * 17), 12);
    expect(gap.stable).toEqual({ computed: 2, mae: 1.5 });
  });
});

describe('a property-conditioned network', () => {
  const mols = labelled();
  const c = buildPropertyConditioning(['gap', 'alpha'], { gap: 'eV', alpha: 'bohr^3' }, mols, mols);
  const config = conditionedConfig(c, mols);

  it('config version 5 validates, and a wrong context width is refused', () => {
    expect(validateConfig(JSON.parse(JSON.stringify(config)), 'c.json').conditioning).toEqual(c);
    expect(() => validateConfig({ ...config, dynamics: { ...config.dynamics, contextNodeNf: 1 } }, 'c.json')).toThrow(/contextNodeNf must be the number of conditioned properties/);
    expect(() => validateConfig({ ...config, version: 4 }, 'c.json')).toThrow(/needs config version 5/);
  });

  it('is E(3) x S_N equivariant with the context, and reads it', () => {
    const params = initParams(config.dynamics, dynamicsInputDim(config), new Rng('ctx-init'));
    // the context rows of the embedding start random here (a trained model's are not zero)
    const model = makeModel(config, params);
    const [B, N, D] = [2, 9, 3 + featureDim(config)];
    const nNodes = [9, 7];
    const context = propertyContext(c, [5, 20, 9, 35], nNodes, N);
    const graph = makeGraph({ nNodes: Int32Array.from(nNodes), N, context, contextDim: 2 });
    const rng = new Rng('ctx-eq');
    const xh = new Float32Array(B * N * D);
    for (let b = 0; b < B; b++) for (let i = 0; i < nNodes[b]; i++) for (let d = 0; d < D; d++) xh[(b * N + i) * D + d] = rng.normal() * (d < 3 ? 1.5 : 0.3);
    const f = (g: typeof graph) => (v: Float32Array): Float32Array => tf.tidy(() => phi(model, tf.tensor3d(v, [B, N, D]), [0.3, 0.7], g).dataSync() as Float32Array);
    expectEquivariant(f(graph), xh, B, N, D, nNodes, rng, 1e-4);
    const other = makeGraph({ nNodes: Int32Array.from(nNodes), N, context: propertyContext(c, [9, 40, 3, 10], nNodes, N), contextDim: 2 });
    const diff = f(graph)(xh).map((v, k) => Math.abs(v - f(other)(xh)[k]));
    expect(Math.max(...diff)).toBeGreaterThan(1e-4);
  });

  it('a batch needs every molecule\'s value', () => {
    const [first, ...rest] = labelled();
    expect(() => makeTrainingBatch(config, [{ ...first, properties: { gap: 3 } }, ...rest])).toThrow(/gdb 1001 has no value of alpha/);
  });
});

describe('conditional training and sampling', () => {
  const mols = labelled();
  const c = buildPropertyConditioning(['gap'], { gap: 'eV' }, mols, mols);
  const base = { train: mols, valid: mols, datasetInfo: datasetInfoFrom('qm9', mols, QM9_ATOM_DECODER), dynamics: { ...EDM_QM9_DYNAMICS, nf: 16, nLayers: 2 }, diffusion: { ...EDM_QM9_DIFFUSION, timesteps: 100 }, batchSize: 4, lr: 1e-3, workers: 0, validateEvery: 0 };
  let root = '';

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'edm-cond-'));
    await train({ ...base, outDir: join(root, 'plain'), maxSteps: 2 });
  });

  it('grows from an unconditional model: zero context weights, the same network until trained', async () => {
    await train({ ...base, conditioning: c, outDir: join(root, 'grown'), from: join(root, 'plain'), maxSteps: 2, lr: 1e-30 });
    const parent = loadCheckpoint(join(root, 'plain'));
    const child = loadCheckpoint(join(root, 'grown'));
    expect(child.config.version).toBe(5);
    // a new model on new data: step 0 with a fresh optimiser
    expect((loadCheckpoint(join(root, 'grown'), true).trainState!.state as { step: number }).step).toBe(2);
    expect(child.config.dynamics.contextNodeNf).toBe(1);
    const [B, N] = [1, 9];
    const D = 3 + featureDim(child.config);
    const rng = new Rng('grown');
    const xh = tf.tensor3d(Float32Array.from({ length: B * N * D }, () => rng.normal()), [B, N, D]);
    const plainOut = phi(makeModel(parent.config, parent.params), xh, [0.4], makeGraph({ nNodes: Int32Array.of(9), N })).dataSync();
    for (const gap of [2, 9]) {
      const g = makeGraph({ nNodes: Int32Array.of(9), N, context: propertyContext(child.config.conditioning as PropertyConditioning, [gap], [9], N), contextDim: 1 });
      const out = phi(makeModel(child.config, child.params), xh, [0.4], g).dataSync();
      // lr 1e-30: the EMA of (all but) unchanged weights; the grown context rows read nothing yet
      expect(Math.max(...Array.from(out, (v, k) => Math.abs(v - plainOut[k])))).toBeLessThan(1e-5);
    }
  });

  it('resumes exactly: 4 steps equal 2 steps then 2 resumed', async () => {
    const fresh = { ...base, conditioning: c, dynamics: { ...base.dynamics, contextNodeNf: 1 } };
    await train({ ...fresh, outDir: join(root, 'straight'), maxSteps: 4 });
    await train({ ...fresh, outDir: join(root, 'resumed'), maxSteps: 2 });
    await train({ ...fresh, outDir: join(root, 'resumed'), maxSteps: 4, resume: true });
    const a = loadCheckpoint(join(root, 'straight'), true);
    const b = loadCheckpoint(join(root, 'resumed'), true);
    for (const [k, v] of Object.entries(a.trainState!.tensors)) expect(Array.from(b.trainState!.tensors[k].dataSync()), k).toEqual(Array.from(v.dataSync()));
  });

  it('sampling: drawn values depend on the molecule, not the batch size; fields carry them; bad conditions are refused', async () => {
    const ck = loadCheckpoint(join(root, 'straight'));
    const model = makeModel(ck.config, ck.params);
    const plan = (batchSize: number) => planSampling(model, { n: 6, seed: 3, batchSize, condition: { gap: 'draw' } });
    const values = (p: ReturnType<typeof plan>) => new Map(p.batches.flatMap((b) => Array.from(b.ids, (id, k) => [id, b.properties![k]] as const)));
    expect(values(plan(2))).toEqual(values(plan(6)));
    // a shard's molecules are asked what the whole run asks them
    const shard = values(planSampling(model, { n: 6, seed: 3, batchSize: 2, condition: { gap: 'draw' } }, { index: 1, count: 2 }));
    expect([...shard.keys()]).toEqual([3, 4, 5]);
    for (const [id, v] of shard) expect(v).toBe(values(plan(6)).get(id));
    const r = await generate('', model, { n: 3, seed: 1, steps: 4, workers: 1, condition: { gap: 6.5 } });
    expect(r.molecules.map((m) => m.properties?.target_gap)).toEqual([6.5, 6.5, 6.5]);
    expect(() => planSampling(model, { n: 2, seed: 0 })).toThrow(/conditioned on gap: give --condition gap=VALUE/);
    expect(() => planSampling(model, { n: 2, seed: 0, condition: { gap: 1, mu: 2 } })).toThrow(/--condition mu: the checkpoint is conditioned on gap/);
    expect(() => planSampling(model, { n: 2, seed: 0, condition: { gap: Number.NaN } })).toThrow(/not a finite number/);
    const plain = loadCheckpoint(join(root, 'plain'));
    expect(() => planSampling(makeModel(plain.config, plain.params), { n: 2, seed: 0, condition: { gap: 1 } })).toThrow(/not conditioned on properties/);
  });

  it('the CLI warns of a value outside the training range and refuses malformed ones', () => {
    const run = (args: string[]) => spawnSync(process.execPath, [join(ROOT, 'bin', 'edm.js'), 'sample', '--checkpoint', join(root, 'straight'), '-n', '2', '--steps', '2', '--no-eval', '--workers', '1', '--out', join(root, 'c.sdf'), ...args], { encoding: 'utf8', timeout: 60_000 });
    const far = run(['--condition', 'gap=40']);
    expect(far.status).toBe(0);
    expect(far.stderr).toMatch(/gap=40: outside the values the model was trained on \(6\.300 to 9\.000 eV\)/);
    expect(readFileSync(join(root, 'c.sdf'), 'utf8')).toMatch(/<target_gap>\n40\n/);
    for (const [arg, re] of [['gap=abc', /not a finite number/], ['weight=3', /--condition weight: the checkpoint is conditioned on gap/], ['gap=1,gap=2', /gap is given twice/]] as const) {
      const r = run(['--condition', arg]);
      expect(r.status, arg).toBe(2);
      expect(r.stderr, arg).toMatch(re);
    }
  });
});

describe('an EGNN property regressor (EDM\'s check of conditional samples)', () => {
  const mols = labelled();
  const regressor = { kind: 'property-regressor' as const, property: { name: 'gap', unit: 'eV', mean: 7.65, mad: 0.9 } };
  const base = { train: mols, valid: mols, datasetInfo: datasetInfoFrom('qm9', mols, QM9_ATOM_DECODER), dynamics: { ...EDM_QM9_DYNAMICS, nf: 16, nLayers: 2 }, diffusion: { ...EDM_QM9_DIFFUSION, timesteps: 100 }, batchSize: 4, workers: 0, validateEvery: 0, regressor };
  let root = '';

  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'edm-regressor-'));
  });

  it('its prediction is invariant under rotation, translation and atom order', () => {
    const config: EdmConfig = { format: 'edm-ts-checkpoint', version: 5, dynamics: base.dynamics, diffusion: base.diffusion, dataset: base.datasetInfo, regressor };
    expect(validateConfig(JSON.parse(JSON.stringify(config)), 'r.json').regressor).toEqual(regressor);
    const model = makeModel(config, initParams(config.dynamics, dynamicsInputDim(config), new Rng('reg-init')));
    const m = mols[0];
    const [c, s] = [Math.cos(1.1), Math.sin(1.1)];
    const perm = [3, 0, 8, 1, 2, 7, 4, 6, 5];
    const positions = new Float32Array(27);
    perm.forEach((from, to) => {
      const [x, y, z] = [m.positions[from * 3], m.positions[from * 3 + 1], m.positions[from * 3 + 2]];
      positions.set([c * x + s * y + 2.5, -s * x + c * y - 1, z + 4], to * 3);
    });
    const moved = { elements: perm.map((i) => m.elements[i]), positions };
    const [a, b] = predictProperty(model, [m, moved]);
    expect(Math.abs(a - b)).toBeLessThan(1e-5 * Math.max(1, Math.abs(a)));
    // a different molecule gets a different value (the check is not vacuous)
    expect(Math.abs(predictProperty(model, [mols[1]])[0] - a)).toBeGreaterThan(1e-6);
  });

  it('training lowers its error on the training molecules, and resumes exactly', async () => {
    const before = await train({ ...base, outDir: join(root, 'zero'), maxSteps: 1, lr: 1e-30 });
    expect(before.step).toBe(1);
    const z = loadCheckpoint(join(root, 'zero'));
    const start = regressorMae(makeModel(z.config, z.params), mols);
    await train({ ...base, outDir: join(root, 'trained'), maxSteps: 150, lr: 3e-3, emaDecay: 0.5 });
    const t = loadCheckpoint(join(root, 'trained'));
    expect(regressorMae(makeModel(t.config, t.params), mols)).toBeLessThan(0.5 * start);
    await train({ ...base, outDir: join(root, 'straight'), maxSteps: 4 });
    await train({ ...base, outDir: join(root, 'resumed'), maxSteps: 2 });
    await train({ ...base, outDir: join(root, 'resumed'), maxSteps: 4, resume: true });
    const [x, y] = ['straight', 'resumed'].map((d) => loadCheckpoint(join(root, d), true));
    for (const [k, v] of Object.entries(x.trainState!.tensors)) expect(Array.from(y.trainState!.tensors[k].dataSync()), k).toEqual(Array.from(v.dataSync()));
    // a regressor is not resumed as a generator, nor the reverse
    const { regressor: _r, ...generator } = base;
    await expect(train({ ...generator, outDir: join(root, 'straight'), maxSteps: 6, resume: true })).rejects.toThrow(/a property regressor: resume it with --regressor/);
  }, 120_000);
});

describe('EDM\'s alpha-conditioned QM9 model, imported', () => {
  it('edm import-torch reads its conditioning and normalisation, and edm sample --condition alpha=80 samples from it', (ctx) => {
    const src = join(SHARED, 'reference', 'edm', 'conditional_alpha');
    if (!existsSync(src)) return ctx.skip(NO_SHARED_REASON);
    const dir = mkdtempSync(join(tmpdir(), 'edm-alpha-'));
    const edm = (args: string[]) => spawnSync(process.execPath, [join(ROOT, 'bin', 'edm.js'), ...args], { cwd: dir, encoding: 'utf8', timeout: 120_000 });
    const imp = edm(['import-torch', src, '--out', 'alpha', '--property-norm', 'alpha=70,5']);
    expect(imp.status, imp.stderr).toBe(0);
    expect(imp.stdout).toMatch(/conditioned on alpha \(mean 70, MAD 5 bohr\^3\)/);
    const s = edm(['sample', '--checkpoint', 'alpha', '--condition', 'alpha=80', '-n', '2', '--steps', '4', '--no-eval', '--out', 'a.sdf']);
    expect(s.status, s.stderr).toBe(0);
    expect(readFileSync(join(dir, 'a.sdf'), 'utf8').match(/<target_alpha>\n80\n/g)).toHaveLength(2);
    // EDM's protocol draws alpha from the training labels, which EDM does not ship
    const draw = edm(['sample', '--checkpoint', 'alpha', '--condition', 'alpha', '-n', '2', '--steps', '4', '--out', 'b.sdf']);
    expect([draw.status, draw.stderr]).toEqual([2, expect.stringMatching(/stores no training distribution of alpha/)]);
    const bad = edm(['import-torch', src, '--out', 'x', '--property-norm', 'alpha=1,-2']);
    expect([bad.status, bad.stderr]).toEqual([2, expect.stringMatching(/--property-norm alpha=1,-2: give NAME=MEAN,MAD/)]);
  }, 120_000);
});
