/**
 * The `edm` command as users run it (bin/edm.js over the compiled dist/): the main job's
 * outputs, reproducibility, clear errors with no partial files, and kill -9 + --resume.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { initBackend } from '../src/backend.js';
import { loadOrt } from '../src/onnx/session.js';
import { saveCheckpoint } from '../src/checkpoint/format.js';
import { formatXyz } from '../src/data/xyz.js';
import { loadQm9Split } from '../src/data/qm9.js';
import { initParams } from '../src/egnn/params.js';
import { loadRDKit } from '../src/metrics/rdkit.js';
import { parseSdf, toMolBlock } from '../src/data/sdf.js';
import { Rng } from '../src/random.js';
import { ROOT, HAS_SHARED, SHARED, TINY, skipWithoutShared, when } from './helpers.js';

const BIN = join(ROOT, 'bin', 'edm.js');

/**
 * Start `edm ARGS` (a training run writing to `out`) and kill it with SIGKILL once its checkpoint
 * has reached `step` (or after 60 s). @returns the step of the checkpoint it left behind
 */
async function killAfterCheckpoint(args: string[], out: string, step: number): Promise<number> {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: dirname(out), stdio: 'ignore' });
  const cfg = join(out, 'config.json');
  const stepOf = (): number | undefined => (existsSync(cfg) ? JSON.parse(readFileSync(cfg, 'utf8')).trainState?.state.step : undefined);
  const exited = new Promise((r) => child.on('exit', r));
  await Promise.race([when(() => (stepOf() ?? -1) >= step, { folder: dirname(out) }, `a checkpoint at step ${step}`, 60_000), exited]);
  child.kill('SIGKILL');
  await exited;
  return stepOf()!;
}

/** [step, loss] of every step in a run's train-log.jsonl, by step (after a resume the replayed steps overwrite). */
function stepLosses(out: string): [number, number][] {
  const m = new Map<number, number>();
  for (const line of readFileSync(join(out, 'train-log.jsonl'), 'utf8').trim().split('\n')) {
    const e = JSON.parse(line);
    if (e.event === 'step') m.set(e.step, e.loss);
  }
  return [...m.entries()].sort((x, y) => x[0] - y[0]);
}

function edm(args: string[], cwd: string): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd, encoding: 'utf8', env: { ...process.env, EDM_CACHE_DIR: join(cwd, 'cache') } });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

describe('edm command', () => {
  let dir: string;
  let ck: string;
  beforeAll(async () => {
    await initBackend('wasm');
    dir = mkdtempSync(join(tmpdir(), 'edm-cli-'));
    ck = join(dir, 'tiny');
    await saveCheckpoint(ck, TINY, initParams(TINY.dynamics, 7, new Rng(5)));
  });

  it('sample writes an SDF that RDKit reads back, a metrics JSON, and is byte-identical for a seed', async () => {
    const a = edm(['sample', '-n', '4', '--seed', '1', '--steps', '8', '--checkpoint', ck, '--out', 'a.sdf', '--no-train', '--chain', '1', '--html', 'a.html'], dir);
    expect(a.code, a.stderr).toBe(0);
    expect(a.stdout).toMatch(/wrote 4 molecules to a\.sdf/);
    // the HTML report: a card per molecule and the trajectory (rendering: test/html.test.ts)
    const page = readFileSync(join(dir, 'a.html'), 'utf8');
    expect(page.match(/<div class="card"/g)).toHaveLength(4);
    expect(page).toContain('id="edm-chain"');
    expect(a.stdout).toMatch(/atom stab\./);
    const b = edm(['sample', '-n', '4', '--seed', '1', '--steps', '8', '--checkpoint', ck, '--out', 'b.sdf', '--no-train'], dir);
    expect(b.code, b.stderr).toBe(0);
    const sdf = readFileSync(join(dir, 'a.sdf'), 'utf8');
    expect(readFileSync(join(dir, 'b.sdf'), 'utf8')).toBe(sdf);
    const c = edm(['sample', '-n', '4', '--seed', '2', '--steps', '8', '--checkpoint', ck, '--out', 'c.sdf', '--no-eval'], dir);
    expect(readFileSync(join(dir, 'c.sdf'), 'utf8')).not.toBe(sdf);
    const mols = parseSdf(sdf);
    expect(mols).toHaveLength(4);
    const rdkit = await loadRDKit();
    for (const m of mols) {
      const r = rdkit.get_mol(toMolBlock(m), JSON.stringify({ removeHs: false, sanitize: false }));
      expect(r, 'RDKit parses the record').not.toBeNull();
      expect(r!.get_num_atoms()).toBe(m.elements.length);
      r!.delete();
    }
    const metrics = JSON.parse(readFileSync(join(dir, 'a.metrics.json'), 'utf8'));
    expect(metrics.molecules).toBe(4);
    expect(metrics.steps).toBe(8);
    // the default sampler, recorded and named: EDM's with 2 Langevin corrector steps at the end
    expect(metrics.corrector).toEqual({ steps: 2, snr: 0.1, fraction: 0.2 });
    expect(a.stdout).toMatch(/8 denoising steps, 2 Langevin corrector steps \(snr 0\.1\) in the last 20%/);
    const e = edm(['sample', '-n', '4', '--seed', '1', '--steps', '8', '--checkpoint', ck, '--out', 'e.sdf', '--no-train', '--corrector-steps', '0'], dir);
    expect(e.code, e.stderr).toBe(0);
    expect(e.stdout).toMatch(/8 denoising steps, EDM's sampler/);
    expect(JSON.parse(readFileSync(join(dir, 'e.metrics.json'), 'utf8')).corrector).toBeNull();
    expect(readFileSync(join(dir, 'e.sdf'), 'utf8')).not.toBe(sdf);
    // outcomes spooled to disk during the run: all listed, no temporary file left behind
    expect(metrics.outcomes.map((o: { index: number }) => o.index)).toEqual([0, 1, 2, 3]);
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    expect(readFileSync(join(dir, 'a.chain.xyz'), 'utf8').split('\n')[0]).toMatch(/^\d+$/);
  });

  it('sample writes SDF fields a chemist filters on (RDKit reads them back) and --keep writes only what passes, the metrics covering all', async () => {
    const r = edm(['sample', '-n', '16', '--steps', '60', '--seed', '2', '--keep', 'valid', '--out', 'kept.sdf', '--no-train'], dir);
    expect(r.code, r.stderr).toBe(0);
    const metrics = JSON.parse(readFileSync(join(dir, 'kept.metrics.json'), 'utf8'));
    expect(metrics.molecules).toBe(16);
    const text = readFileSync(join(dir, 'kept.sdf'), 'utf8');
    const records = text.split('$$$$\n').filter(Boolean);
    expect(records.length).toBe(metrics.counts.valid);
    expect(r.stdout).toContain(`wrote ${records.length} of 16 molecules to kept.sdf (--keep valid)`);
    expect(r.stdout).toMatch(/EDM \(paper\)/);
    const field = (rec: string, name: string): string | undefined => new RegExp(`>  <${name}>\\n([^\\n]*)`).exec(rec)?.[1];
    const rdkit = await loadRDKit();
    for (const rec of records) {
      expect(field(rec, 'valid')).toBe('1');
      const smiles = field(rec, 'largest_fragment_smiles')!;
      // canonical with implicit hydrogens: RDKit gives it back unchanged, and no [H] atoms are spelled out
      const mol = rdkit.get_mol(smiles)!;
      expect(mol.get_smiles()).toBe(smiles);
      mol.delete();
      expect(smiles).not.toMatch(/\[H\]/);
      expect(Number(field(rec, 'fragments'))).toBeGreaterThanOrEqual(1);
      expect(field(rec, 'connected')).toBe(Number(field(rec, 'fragments')) === 1 ? '1' : '0');
      // the record itself is what RDKit reads
      const m = rdkit.get_mol(rec);
      expect(m?.is_valid()).toBe(true);
      m?.delete();
    }
  });

  it('molecule i of a seed is the same whatever -n, batch size, workers or shard count (WebAssembly: byte for byte), and the library gives what edm sample gives', async () => {
    const run = ['sample', '-n', '10', '--seed', '3', '--steps', '6', '--checkpoint', ck, '--no-eval', '--backend', 'wasm'];
    const ok = (args: string[]): void => {
      const r = edm(args, dir);
      expect(r.code, r.stderr).toBe(0);
    };
    const bytes = (f: string): Buffer => readFileSync(join(dir, f));
    ok([...run, '--batch-size', '2', '--chain', '3', '--out', 'whole.sdf']);
    // batch sizes and workers
    for (const [name, extra] of [['b3.sdf', ['--batch-size', '3']], ['b50.sdf', ['--batch-size', '50']], ['w1.sdf', ['--batch-size', '2', '--workers', '1']]] as const) {
      ok([...run, ...extra, '--out', name]);
      expect(bytes(name).equals(bytes('whole.sdf')), name).toBe(true);
    }
    // a shorter run is the beginning of a longer one
    ok([...run.map((a) => (a === '10' ? '4' : a)), '--out', 'n4.sdf']);
    const blocks = (f: string): string[] => readFileSync(join(dir, f), 'utf8').split('$$$$\n').filter(Boolean);
    expect(blocks('n4.sdf')).toEqual(blocks('whole.sdf').slice(0, 4));
    // 3 and 4 shards (any count up to n), merged in any order; shards made with --no-eval are
    // scored by the merge, which writes the fields of the run made with scoring
    ok([...run.filter((a) => a !== '--no-eval'), '--batch-size', '2', '--chain', '3', '--no-train', '--out', 'whole-scored.sdf']);
    for (const k of [3, 4]) {
      const names = Array.from({ length: k }, (_, i) => `k${k}-shard${i}.sdf`);
      names.forEach((name, i) => ok([...run, '--batch-size', '2', '--chain', '3', '--shard', `${i}/${k}`, '--out', name]));
      const merged = edm(['merge', ...[...names].reverse(), '--out', `merged${k}.sdf`, '--no-train'], dir);
      expect(merged.code, merged.stderr).toBe(0);
      expect(merged.stdout).toMatch(new RegExp(`merged 10 molecules from ${k} files into merged${k}\\.sdf; none missing`));
      expect(readFileSync(join(dir, `merged${k}.sdf`), 'utf8')).toMatch(/<valid>/);
      expect(bytes(`merged${k}.sdf`).equals(bytes('whole-scored.sdf')), `${k} shards`).toBe(true);
    }
    // the trajectories of the first 3 molecules, shard after shard (4 shards: molecules 0-1, 2-4, ...)
    expect([0, 1, 2, 3].map((i) => existsSync(join(dir, `k4-shard${i}.chain.xyz`)))).toEqual([true, true, false, false]);
    const chains = [0, 1].map((i) => readFileSync(join(dir, `k4-shard${i}.chain.xyz`), 'utf8')).join('');
    expect(chains).toBe(readFileSync(join(dir, 'whole.chain.xyz'), 'utf8'));
    // the library's sample(): the same coordinates as the SDF (4 decimals)
    const { loadModel, sample } = await import('../src/index.js');
    const lib = sample(loadModel(ck), { n: 10, seed: 3, steps: 6 });
    const written = parseSdf(readFileSync(join(dir, 'whole.sdf'), 'utf8'), 'whole.sdf');
    expect(lib.map((m) => m.elements)).toEqual(written.map((m) => m.elements));
    expect(lib.map((m) => Array.from(m.positions, (v) => v.toFixed(4)))).toEqual(written.map((m) => Array.from(m.positions, (v) => v.toFixed(4))));
    const twice = edm(['merge', 'k4-shard0.sdf', 'k4-shard0.sdf', '--out', 'twice.sdf', '--no-train'], dir);
    expect([twice.code, twice.stderr]).toEqual([2, expect.stringMatching(/k4-shard0\.sdf: sample 1 is also in .*k4-shard0\.sdf/)]);
    const tooMany = edm([...run, '--shard', '10/11', '--out', 'x.sdf'], dir);
    expect([tooMany.code, tooMany.stderr]).toEqual([2, expect.stringMatching(/the run has only 10 molecules; use at most 10 shards/)]);
    const badForm = edm([...run, '--shard', '4/4', '--out', 'x.sdf'], dir);
    expect(badForm.stderr).toMatch(/--shard must be i\/k with 0 <= i < k \(e\.g\. 0\/4 to 3\/4\), got "4\/4"/);
    // 17 edm processes: minutes on a loaded 2-core machine
  }, 400_000);

  it('on ONNX Runtime, shards merged equal the single run to float32 rounding (batch composition changes the rounding)', (ctx) => {
    ctx.skip(loadOrt() === undefined, 'onnxruntime-node is not installed (an optional dependency)');
    const run = ['sample', '-n', '10', '--batch-size', '2', '--seed', '3', '--steps', '6', '--checkpoint', ck, '--no-eval', '--backend', 'onnx'];
    expect(edm([...run, '--out', 'onnx-whole.sdf'], dir).code).toBe(0);
    for (let i = 0; i < 3; i++) expect(edm([...run, '--shard', `${i}/3`, '--out', `onnx-shard${i}.sdf`], dir).code).toBe(0);
    expect(edm(['merge', 'onnx-shard0.sdf', 'onnx-shard1.sdf', 'onnx-shard2.sdf', '--out', 'onnx-merged.sdf', '--no-train'], dir).code).toBe(0);
    // a forgotten shard is an error, and nothing is written
    const gap = edm(['merge', 'onnx-shard0.sdf', 'onnx-shard2.sdf', '--out', 'onnx-gap.sdf', '--no-train'], dir);
    expect(gap.code).toBe(2);
    expect(gap.stderr).toMatch(/missing samples 4, 5, 6: give every shard's file/);
    expect(existsSync(join(dir, 'onnx-gap.sdf'))).toBe(false);
    const [whole, merged] = ['onnx-whole.sdf', 'onnx-merged.sdf'].map((f) => parseSdf(readFileSync(join(dir, f), 'utf8'), f));
    expect(merged.map((m) => m.elements)).toEqual(whole.map((m) => m.elements));
    let worst = 0;
    merged.forEach((m, k) => m.positions.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - whole[k].positions[i])))));
    expect(worst).toBeLessThan(1e-3);
    // the default shares the cores among workers, each with its own ONNX Runtime session on whole
    // batches: the same bytes as one session in this thread
    expect(edm([...run, '--workers', '1', '--out', 'onnx-w1.sdf'], dir).code).toBe(0);
    expect(edm([...run, '--workers', '2', '--threads', '2', '--out', 'onnx-w2.sdf'], dir).code).toBe(0);
    expect(readFileSync(join(dir, 'onnx-w2.sdf'), 'utf8')).toBe(readFileSync(join(dir, 'onnx-w1.sdf'), 'utf8'));
  });

  const bad: [string, string[], RegExp][] = [
    ['-n 0', ['sample', '-n', '0'], /-n must be an integer in 1\.\.10000000, got 0/],
    ['--steps 0', ['sample', '-n', '2', '--steps', '0'], /--steps must be an integer in 1..1000, got 0/],
    ['--threads 0', ['sample', '-n', '2', '--threads', '0'], /--threads must be a positive integer, got 0/],
    ['--threads on WebAssembly', ['sample', '-n', '2', '--threads', '2', '--backend', 'wasm'], /--threads 2: it sets ONNX Runtime's threads, and this run computes on wasm/],
    ['--temperature -1', ['sample', '-n', '2', '--temperature', '-1'], /--temperature must be a number >= 0 and <= 10, got -1/],
    ['unwritable --out', ['sample', '-n', '2', '--out', '/nonexistent/dir/x.sdf'], /\/nonexistent\/dir\/x\.sdf: cannot write: the folder does not exist/],
    ['missing checkpoint', ['sample', '-n', '2', '--checkpoint', 'nowhere', '--out', 'm.sdf'], /nowhere: does not exist/],
    ['--seed 1.5', ['sample', '-n', '2', '--seed', '1.5'], /--seed must be an integer >= 0, got 1\.5/],
    ['--n-atoms 1000 into an SDF (before any compute)', ['sample', '-n', '1', '--n-atoms', '1000', '--out', 'big.sdf'], /--n-atoms 1000: an SDF \(V2000\) record holds at most 999 atoms/],
    ['an unknown option (named once)', ['sample', '--unknown-flag'], /error: Unknown argument: unknown-flag\n/],
    ['a mistyped command', ['sampel'], /Did you mean sample\?/],
    ['evaluate on a folder', ['evaluate', '.'], /: is a folder, not a molecule file/],
  ];
  for (const [name, args, re] of bad) {
    it(`fails clearly on ${name}, exit 2, no output file, no stack trace`, () => {
      const before = new Set(readdirSync(dir));
      const r = edm(args, dir);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(re);
      expect(r.stderr).not.toMatch(/\n\s+at /);
      expect(readdirSync(dir).filter((f) => !before.has(f))).toEqual([]);
    });
  }

  it('fails clearly on a corrupt checkpoint', () => {
    const bad = join(dir, 'corrupt');
    cpSync(ck, bad, { recursive: true });
    writeFileSync(join(bad, 'weights-final.bin'), 'garbage');
    const r = edm(['sample', '-n', '2', '--checkpoint', bad, '--out', 'k.sdf'], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/checksum mismatch/);
    expect(existsSync(join(dir, 'k.sdf'))).toBe(false);
  });

  it('evaluate and train name an unknown element with its line', () => {
    writeFileSync(join(dir, 'xe.xyz'), '2\nbad\nC 0 0 0\nXe 0 0 1.5\n');
    const e = edm(['evaluate', 'xe.xyz', '--no-train'], dir);
    expect(e.code).toBe(2);
    expect(e.stderr).toMatch(/xe\.xyz:4: unknown element Xe; known elements are H, C, N, O, F/);
    const t = edm(['train', '--train-file', 'xe.xyz', '--atoms', 'H,C,N,O,F', '--steps', '1', '--out', 'run-xe'], dir);
    expect(t.code).toBe(2);
    expect(t.stderr).toMatch(/xe\.xyz:4: unknown element Xe; known elements are H, C, N, O, F/);
    expect(existsSync(join(dir, 'run-xe'))).toBe(false);
  });

  it('import-torch converts EDM files into a checkpoint that samples', (ctx) => {
    skipWithoutShared(ctx);
    const r = edm(['import-torch', join(SHARED, 'reference', 'edm', 'small'), '--out', 'imported', '--train', join(SHARED, 'data', 'qm9', 'qm9_test.xyz.gz')], dir);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/nf 32, 2 layers/);
    const s = edm(['sample', '-n', '2', '--steps', '3', '--checkpoint', 'imported', '--out', 'imp.sdf', '--no-eval'], dir);
    expect(s.code, s.stderr).toBe(0);
    const bad = edm(['import-torch', join(dir, 'nowhere'), '--out', 'x', '--train', join(SHARED, 'data', 'qm9', 'qm9_test.xyz.gz')], dir);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/nowhere: no such folder; edm import-torch reads EDM's output folders/);
  });

  it('evaluate writes JSON atomically and an SVG grid', () => {
    writeFileSync(join(dir, 'water.xyz'), '3\nwater\nO 0 0 0\nH 0.96 0 0\nH -0.24 0.93 0\n');
    const r = edm(['evaluate', 'water.xyz', '--no-train', '--json', 'w.json', '--svg', 'w.svg'], dir);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(readFileSync(join(dir, 'w.json'), 'utf8')).validity).toBe(1);
    expect(readFileSync(join(dir, 'w.svg'), 'utf8')).toMatch(/^<svg/);
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('train on 1 and 2 gradient workers gives byte-identical checkpoints; the curve writes curve.csv, curve.svg and best/', async () => {
    const mols = HAS_SHARED
      ? (await loadQm9Split(join(SHARED, 'data', 'qm9'), 'valid')).slice(0, 40)
      : Array.from({ length: 40 }, (_, i) => ({ elements: ['O', 'H', 'H'], positions: Float32Array.from([0, 0, 0, 0.96 + i * 1e-3, 0, 0, -0.24, 0.93, 0]) }));
    writeFileSync(join(dir, 'w.xyz'), formatXyz(mols));
    const args = (out: string, workers: number) => ['train', '--train-file', 'w.xyz', '--atoms', 'H,C,N,O,F', '--nf', '16', '--layers', '2', '--batch-size', '9', '--lr', '1e-3', '--steps', '6', '--validate-every', '0', '--valid-file', 'w.xyz', '--valid-size', '8', '--workers', String(workers), '--backend', 'wasm', '--curve-every', '3', '--curve-samples', '6', '--curve-steps', '4', '--out', out];
    const one = edm(args('w1', 1), dir);
    expect(one.code, one.stderr).toBe(0);
    // curve points and validations in words on stderr (train-log.jsonl keeps the fields)
    expect(one.stderr).toMatch(/curve: step 3 \(\d+\.\d\d CPU-hours\): atom stability [\d.]+%, molecule stability [\d.]+%, validity [\d.]+% on 6 samples x 4 steps, NLL -?[\d.]+/);
    expect(one.stderr).not.toMatch(/\{"event"/);
    expect(one.stdout).toMatch(/trained to step 6 \(\d+\.\d{3} epochs\)/);
    const two = edm(args('w2', 2), dir);
    expect(two.code, two.stderr).toBe(0);
    const bins = (run: string) => readdirSync(join(dir, run)).filter((f) => f.endsWith('.bin')).sort();
    expect(bins('w1')).toEqual(['train-state-step6.bin', 'weights-step6.bin']);
    for (const f of bins('w1')) expect(readFileSync(join(dir, 'w2', f)).equals(readFileSync(join(dir, 'w1', f))), f).toBe(true);
    // two curve points (steps 3 and 6) with metrics in [0, 1], equal for 1 and 2 workers
    const csv = readFileSync(join(dir, 'w1', 'curve.csv'), 'utf8').trim().split('\n');
    expect(csv[0]).toBe('step,epoch,cpu_hours,wall_hours,atom_stability,molecule_stability,validity,uniqueness,connected_validity,valid_nll,samples,sampling_steps,probe_seconds');
    expect(csv.slice(1).map((l) => l.split(',')[0])).toEqual(['3', '6']);
    const cells = (run: string) => readFileSync(join(dir, run, 'curve.csv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split(',').slice(4, 12).join(','));
    expect(cells('w2')).toEqual(cells('w1'));
    for (const l of csv.slice(1)) {
      const v = l.split(',').map(Number);
      for (const k of [4, 5, 6, 7, 8]) {
        expect(v[k]).toBeGreaterThanOrEqual(0);
        expect(v[k]).toBeLessThanOrEqual(1);
      }
      expect(v[9]).toBeGreaterThan(0); // validation NLL
      expect(v[10]).toBe(6);
    }
    expect(readFileSync(join(dir, 'w1', 'curve.svg'), 'utf8')).toMatch(/^<svg[\s\S]*CPU-hours of training/);
    expect(existsSync(join(dir, 'w1', 'best', 'config.json'))).toBe(true);
    // the training report beside the checkpoint draws the curve
    expect(readFileSync(join(dir, 'w1', 'report.html'), 'utf8')).toMatch(/<svg[\s\S]*Fixed sample set/);
    // the checkpoint carries its training SMILES: sampling reports novelty from them
    expect(existsSync(join(dir, 'w1', 'train-reference.json.gz'))).toBe(true);
    const s = edm(['sample', '-n', '4', '--steps', '4', '--checkpoint', 'w1', '--out', 'nov.sdf'], dir);
    expect(s.code, s.stderr).toBe(0);
    expect(s.stdout).toMatch(/novelty vs w\.xyz \(stored in/);
    // one command regenerates the picture from the CSV
    const plot = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'scripts', 'plot-curve.ts'), join(dir, 'w2')], { cwd: ROOT, encoding: 'utf8' });
    expect(plot.status, plot.stderr).toBe(0);
    expect(readFileSync(join(dir, 'w2', 'curve.svg'), 'utf8')).toMatch(/^<svg/);
  });

  it('train on ONNX Runtime: kill -9 on 1 thread + --resume on 2 threads gives the losses and checkpoint bytes of an uninterrupted 2-thread run', async (ctx) => {
    ctx.skip(loadOrt() === undefined, 'onnxruntime-node is not installed (an optional dependency)');
    const mols = HAS_SHARED
      ? (await loadQm9Split(join(SHARED, 'data', 'qm9'), 'valid')).slice(0, 40)
      : Array.from({ length: 40 }, (_, i) => ({ elements: ['O', 'H', 'H'], positions: Float32Array.from([0, 0, 0, 0.96 + i * 1e-3, 0, 0, -0.24, 0.93, 0]) }));
    writeFileSync(join(dir, 'ort.xyz'), formatXyz(mols));
    const args = (out: string, threads: number) => ['train', '--train-file', 'ort.xyz', '--atoms', 'H,C,N,O,F', '--nf', '16', '--layers', '2', '--batch-size', '8', '--lr', '1e-3', '--steps', '30', '--checkpoint-every', '4', '--log-every', '1', '--validate-every', '0', '--backend', 'onnx', '--threads', String(threads), '--out', out];
    const straight = edm(args('ort-straight', 2), dir);
    expect(straight.code, straight.stderr).toBe(0);
    // killed mid-run: the checkpoint it left is before the last step
    expect(await killAfterCheckpoint(args('ort-killed', 1), join(dir, 'ort-killed'), 4)).toBeLessThan(30);
    const resumed = edm([...args('ort-killed', 2), '--resume'], dir);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(stepLosses(join(dir, 'ort-straight')).length).toBe(30);
    expect(stepLosses(join(dir, 'ort-killed'))).toEqual(stepLosses(join(dir, 'ort-straight')));
    for (const f of ['train-state-step30.bin', 'weights-step30.bin']) {
      expect(readFileSync(join(dir, 'ort-killed', f)).equals(readFileSync(join(dir, 'ort-straight', f))), f).toBe(true);
    }
    const log = readFileSync(join(dir, 'ort-killed', 'train-log.jsonl'), 'utf8');
    expect(log).toMatch(/"event":"resume".*"engine":"onnx","threads":2/);
    expect(JSON.parse(readFileSync(join(dir, 'ort-killed', 'config.json'), 'utf8')).trainState.state.compute).toEqual({ engine: 'onnx', threads: 2 });
    // workers are a tfjs notion: asking for them on onnx is a clear error
    const bad = edm([...args('ort-bad', 2), '--workers', '2'], dir);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--workers 2: the onnx backend computes gradients in one process/);
  });

  it('train on 2 gradient workers resumes after kill -9 with the same losses as an uninterrupted run', async () => {
    const mols = HAS_SHARED
      ? (await loadQm9Split(join(SHARED, 'data', 'qm9'), 'valid')).slice(0, 40)
      : Array.from({ length: 40 }, () => ({ elements: ['O', 'H', 'H'], positions: Float32Array.from([0, 0, 0, 0.96, 0, 0, -0.24, 0.93, 0]) }));
    writeFileSync(join(dir, 'small.xyz'), formatXyz(mols));
    const args = (out: string) => ['train', '--train-file', 'small.xyz', '--atoms', 'H,C,N,O,F', '--nf', '16', '--layers', '1', '--batch-size', '8', '--lr', '1e-3', '--steps', '14', '--checkpoint-every', '4', '--log-every', '1', '--validate-every', '0', '--workers', '2', '--backend', 'wasm', '--out', out];
    const straight = edm(args('straight'), dir);
    expect(straight.code, straight.stderr).toBe(0);
    // start the same run, kill -9 once its step-8 checkpoint exists, then resume
    expect(await killAfterCheckpoint(args('killed'), join(dir, 'killed'), 8)).toBeLessThan(14);
    const resumed = edm([...args('killed'), '--resume'], dir);
    expect(resumed.code, resumed.stderr).toBe(0);
    const a = stepLosses(join(dir, 'straight'));
    expect(a.length).toBe(14);
    expect(stepLosses(join(dir, 'killed'))).toEqual(a);
    expect(readFileSync(join(dir, 'killed', 'train-log.jsonl'), 'utf8')).toMatch(/"event":"resume"/);
  });

  describe('nothing lost', () => {
    const water = Array.from({ length: 24 }, () => ({ elements: ['O', 'H', 'H'], positions: Float32Array.from([0, 0, 0, 0.96, 0, 0, -0.24, 0.93, 0]) }));
    const trainArgs = (out: string, extra: string[] = []): string[] => ['train', '--train-file', 'water.xyz', '--atoms', 'H,O', '--nf', '8', '--layers', '1', '--batch-size', '8', '--validate-every', '0', '--workers', '0', '--backend', 'wasm', '--out', out, ...extra];
    beforeAll(() => writeFileSync(join(dir, 'water.xyz'), formatXyz(water)));

    it('an output that is an input, or two outputs that are one file, are refused before any work and the input stays', () => {
      const input = readFileSync(join(dir, 'water.xyz'), 'utf8');
      const e = edm(['evaluate', 'water.xyz', '--json', 'water.xyz', '--no-train'], dir);
      expect(e.code).toBe(2);
      expect(e.stderr).toMatch(/water\.xyz: --json would overwrite one of the command's inputs/);
      expect(readFileSync(join(dir, 'water.xyz'), 'utf8')).toBe(input);
      const s = edm(['sample', '-n', '2', '--checkpoint', ck, '--out', 'same.sdf', '--html', 'same.sdf'], dir);
      expect(s.code).toBe(2);
      expect(s.stderr).toMatch(/same\.sdf: --html and --out are the same file/);
      expect(existsSync(join(dir, 'same.sdf'))).toBe(false);
    });

    it('train checks every option and the folder first: --steps 0, --lr -1, a missing run to resume leave nothing behind', () => {
      for (const [extra, re] of [
        [['--steps', '0'], /--steps must be a positive integer, got 0/],
        [['--steps', '2', '--lr', '-1'], /--lr must be a number > 0, got -1/],
        [['--steps', '2', '--resume'], /--resume: no run to continue there/],
      ] as [string[], RegExp][]) {
        const r = edm(trainArgs('never', extra), dir);
        expect(r.code, extra.join(' ')).toBe(2);
        expect(r.stderr).toMatch(re);
        expect(r.stderr).not.toMatch(/computing the SMILES/);
        expect(existsSync(join(dir, 'never')), extra.join(' ')).toBe(false);
      }
    });

    it('train refuses a folder holding a run; --force replaces it and names what it removed', () => {
      const trained = edm(trainArgs('run1', ['--steps', '2']), dir);
      expect(trained.code).toBe(0);
      // without a terminal: plain progress lines, one epoch figure, a rate or why there is none
      expect(trained.stderr).toMatch(/^train: step 2 epoch \d+\.\d{3} loss \d+\.\d{4} grad \d+\.\d{2} (rate not measured yet|\d+\.\d mol\/s) \d+ s$/m);
      expect(trained.stderr).not.toMatch(/- mol\/s|epoch [\d.]+ epoch/);
      const again = edm(trainArgs('run1', ['--steps', '2']), dir);
      expect(again.code).toBe(2);
      expect(again.stderr).toMatch(/already holds a run .*--force replaces it/);
      expect(existsSync(join(dir, 'run1', 'weights-step2.bin'))).toBe(true);
      const forced = edm(trainArgs('run1', ['--steps', '3', '--force']), dir);
      expect(forced.code, forced.stderr).toBe(0);
      expect(forced.stderr).toMatch(/--force: replacing the run in run1 \(removed .*config\.json.*weights-step2\.bin/);
      expect(readdirSync(join(dir, 'run1')).filter((f) => f.startsWith('weights-'))).toEqual(['weights-step3.bin']);
      expect(readFileSync(join(dir, 'run1', 'train-log.jsonl'), 'utf8').match(/"event":"start"/g)).toHaveLength(1);
      // a custom dataset's metrics are printed without QM9's and EDM's rows
      const s = edm(['sample', '-n', '2', '--steps', '5', '--checkpoint', 'run1', '--out', 'water.sdf'], dir);
      expect(s.code, s.stderr).toBe(0);
      expect(s.stdout).toMatch(/this set/);
      expect(s.stdout).not.toMatch(/QM9 data|EDM \(paper\)/);
    });

    it('Ctrl-C in sample stops the workers between steps, leaves no file, says so and exits 130', async () => {
      const sub = mkdtempSync(join(dir, 'interrupt-'));
      const child = spawn(process.execPath, [BIN, 'sample', '-n', '400', '--steps', '1000', '--checkpoint', ck, '--backend', 'wasm', '--out', 'big.sdf'], { cwd: sub, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr!.on('data', (d) => (stderr += String(d)));
      const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
      // once a worker reports progress, the run is denoising
      await when(() => /sample: /.test(stderr), { stream: child.stderr }, 'the first progress line');
      child.kill('SIGINT');
      expect(await exited).toBe(130);
      expect(stderr).toMatch(/edm: interrupted \(SIGINT\) after \d+ of 400 molecules: nothing was written to big\.sdf/);
      expect(readdirSync(sub)).toEqual([]);
    });

    it('Ctrl-C in sample --workers 1 (this thread) stops within a second, mid-batch, leaves no file and exits 130', async () => {
      const sub = mkdtempSync(join(dir, 'interrupt-1-'));
      // one batch of 200 molecules: the stop comes between two of its steps, long before its end
      const child = spawn(process.execPath, [BIN, 'sample', '-n', '200', '--batch-size', '200', '--steps', '1000', '--checkpoint', ck, '--backend', 'wasm', '--workers', '1', '--out', 'one.sdf'], { cwd: sub, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr!.on('data', (d) => (stderr += String(d)));
      const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
      await when(() => /sample: /.test(stderr), { stream: child.stderr }, 'the first progress line');
      const t0 = performance.now();
      child.kill('SIGINT');
      expect(await exited).toBe(130);
      expect(performance.now() - t0).toBeLessThan(1000);
      expect(stderr).toMatch(/edm: interrupted \(SIGINT\) after 0 of 200 molecules: nothing was written to one\.sdf/);
      expect(readdirSync(sub)).toEqual([]);
    });

    it('Ctrl-C while train computes the training SMILES stops within a second, writes nothing and exits 130', async () => {
      // 30,000 molecules: several seconds of RDKit before the first step
      writeFileSync(join(dir, 'many.xyz'), formatXyz(Array.from({ length: 30_000 }, (_, i) => ({ elements: ['O', 'H', 'H'], positions: Float32Array.from([0, 0, 0, 0.96 + (i % 100) * 1e-3, 0, 0, -0.24, 0.93, 0]) }))));
      const child = spawn(process.execPath, [BIN, 'train', '--train-file', 'many.xyz', '--atoms', 'H,O', '--nf', '8', '--layers', '1', '--validate-every', '0', '--workers', '0', '--backend', 'wasm', '--steps', '1000', '--out', 'early'], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr!.on('data', (d) => (stderr += String(d)));
      const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
      await when(() => /computing the SMILES of 30000 training molecules/.test(stderr), { stream: child.stderr }, 'the SMILES line');
      const t0 = performance.now();
      child.kill('SIGINT');
      expect(await exited).toBe(130);
      expect(performance.now() - t0).toBeLessThan(1000);
      expect(stderr).toMatch(/edm: interrupted \(SIGINT\) before the first step \(stopped after the SMILES of \d+ of 30000 training molecules\): nothing was written; early was not created\n/);
      expect(existsSync(join(dir, 'early'))).toBe(false);
    });

    it('Ctrl-C in train writes the checkpoint, says how to resume and exits 130', async () => {
      const child = spawn(process.execPath, [BIN, ...trainArgs('interrupted', ['--steps', '100000', '--checkpoint-every', '5'])], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr!.on('data', (d) => (stderr += String(d)));
      const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
      const cfg = join(dir, 'interrupted', 'config.json');
      await when(() => existsSync(cfg), { folder: dir }, 'the first checkpoint');
      child.kill('SIGINT');
      expect(await exited).toBe(130);
      expect(stderr).toMatch(/edm: interrupted \(SIGINT\) at step \d+; the checkpoint in interrupted keeps every step so far: continue with the same command and --resume \(its data and options\), e\.g\. edm train .*--out interrupted .*--resume\n/);
      const step = JSON.parse(readFileSync(cfg, 'utf8')).trainState.state.step;
      expect(readdirSync(join(dir, 'interrupted'))).toContain(`weights-step${step}.bin`);
      expect(readdirSync(join(dir, 'interrupted')).filter((f) => f.includes('.tmp'))).toEqual([]);
    });
  });
});
