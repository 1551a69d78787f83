/**
 * The fast engine at install and at run time (issue 41): package.json keeps onnxruntime-node's
 * install script from running (npm 11.16+ reads allowScripts), so `npm ci` cannot drop it; in CI
 * its absence is a failure, not a skip; and a run that falls back to WebAssembly says so once,
 * with the fix.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadOrt } from '../src/onnx/session.js';
import { ROOT } from './helpers.js';

describe('install', () => {
  it("package.json denies onnxruntime-node's install script (it downloads CUDA libraries and fails offline)", () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
    expect(pkg.optionalDependencies['onnxruntime-node']).toBeDefined();
    expect(pkg.allowScripts['onnxruntime-node']).toBe(false);
  });

  it('onnxruntime-node is installed where CI runs (CI fails rather than skipping the ONNX Runtime tests)', (ctx) => {
    ctx.skip(!process.env.CI, 'outside CI a missing onnxruntime-node only skips its tests (edm warns at run time)');
    expect(loadOrt(), 'onnxruntime-node does not load: npm ci dropped it').toBeDefined();
  });

  it('a run that falls back to WebAssembly for want of onnxruntime-node says so once, with the fix; --backend wasm does not', () => {
    // a copy of the package whose node_modules lacks onnxruntime-node (every other package linked)
    const dir = mkdtempSync(join(tmpdir(), 'edm-no-ort-'));
    for (const f of ['bin', 'dist', 'package.json']) cpSync(join(ROOT, f), join(dir, f), { recursive: true });
    mkdirSync(join(dir, 'node_modules'));
    for (const name of readdirSync(join(ROOT, 'node_modules'))) {
      if (name !== 'onnxruntime-node' && name !== '.bin') symlinkSync(join(ROOT, 'node_modules', name), join(dir, 'node_modules', name));
    }
    const run = (extra: string[], out: string): { status: number | null; stderr: string } => {
      const r = spawnSync(process.execPath, [join(dir, 'bin', 'edm.js'), 'sample', '-n', '2', '--steps', '1', '--no-eval', '--checkpoint', join(ROOT, 'checkpoints', 'qm9-default'), '--out', join(dir, out), ...extra], { cwd: dir, encoding: 'utf8', timeout: 120_000 });
      return { status: r.status, stderr: r.stderr };
    };
    const auto = run([], 'auto.xyz');
    expect(auto.status, auto.stderr).toBe(0);
    expect(auto.stderr.match(/onnxruntime-node is not installed/g)).toHaveLength(1);
    expect(auto.stderr).toContain('ONNXRUNTIME_NODE_INSTALL=skip npm ci');
    const wasm = run(['--backend', 'wasm'], 'wasm.xyz');
    expect(wasm.status, wasm.stderr).toBe(0);
    expect(wasm.stderr).not.toContain('onnxruntime-node is not installed');
  });

  it('the npm package holds the checkpoints to sample from, not trial or training states (under 15 MB)', () => {
    const r = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const [pack] = JSON.parse(r.stdout) as { size: number; files: { path: string }[] }[];
    const paths = pack.files.map((f) => f.path);
    expect(paths).toContain('checkpoints/qm9-default/weights-final.bin');
    expect(paths).toContain('checkpoints/qm9-default/config.json');
    expect(paths.filter((p) => p.includes('/trials/') || /train-state-.*\.bin$/.test(p))).toEqual([]);
    expect(pack.size).toBeLessThan(15 * 2 ** 20);
    // the packaged folder (no training state) still samples
    const dir = mkdtempSync(join(tmpdir(), 'edm-packed-'));
    const ck = join(dir, 'qm9-default');
    mkdirSync(ck);
    for (const p of paths.filter((p) => p.startsWith('checkpoints/qm9-default/') && p.split('/').length === 3)) cpSync(join(ROOT, p), join(ck, p.split('/')[2]));
    const out = spawnSync(process.execPath, [join(ROOT, 'bin', 'edm.js'), 'sample', '-n', '1', '--steps', '1', '--no-eval', '--checkpoint', ck, '--out', join(dir, 'one.xyz')], { encoding: 'utf8' });
    expect(out.status, out.stderr).toBe(0);
  });
});
