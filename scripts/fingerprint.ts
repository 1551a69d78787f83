/**
 * Behaviour fingerprint: what a refactor must leave byte-identical, measured through the
 * installed `edm` command (so it works on any version of the code).
 *
 *   npm run build && node --import tsx scripts/fingerprint.ts [OUT.json]
 *
 * Records (1) the SHA-256 of the SDF of `edm sample -n 20 --seed 1` from the shipped checkpoint
 * (1000 steps) and (2) the first 100 training losses of a small fixed run (nf 32, 2 layers,
 * batch 16, lr 1e-3, seed 0) on the first 200 molecules of QM9's validation split. Compare two
 * outputs with `diff`. Both run on the wasm backend (pinned: `auto` picks ONNX Runtime when it
 * loads, whose float32 rounding differs). Needs ../shared/data/qm9; exits 2 with one line when it is absent.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatXyz, loadQm9Split } from '../src/internal.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const qm9 = resolve(root, '..', 'shared', 'data', 'qm9');
if (!existsSync(qm9)) {
  process.stderr.write(`fingerprint: ${qm9} not found (QM9 in EDM's split is needed)\n`);
  process.exit(2);
}
const dir = mkdtempSync(join(tmpdir(), 'edm-fingerprint-'));
const edm = (args: string[]): void => {
  const r = spawnSync(process.execPath, [join(root, 'bin', 'edm.js'), ...args], { cwd: dir, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`edm ${args.join(' ')} failed:\n${r.stderr}`);
};

edm(['sample', '-n', '20', '--seed', '1', '--out', 'fp.sdf', '--no-eval', '--backend', 'wasm']);
const sampleSha256 = createHash('sha256').update(readFileSync(join(dir, 'fp.sdf'))).digest('hex');

writeFileSync(join(dir, 'fp.xyz'), formatXyz((await loadQm9Split(qm9, 'valid')).slice(0, 200)));
edm(['train', '--train-file', 'fp.xyz', '--atoms', 'H,C,N,O,F', '--nf', '32', '--layers', '2', '--batch-size', '16', '--lr', '1e-3', '--steps', '100', '--log-every', '1', '--validate-every', '0', '--backend', 'wasm', '--out', 'run']);
const losses = readFileSync(join(dir, 'run', 'train-log.jsonl'), 'utf8')
  .trim()
  .split('\n')
  .map((l) => JSON.parse(l))
  .filter((e) => e.event === 'step')
  .map((e) => e.loss as number);

const out = JSON.stringify({ sampleSha256, losses }, null, 1);
const target = process.argv[2];
if (target) writeFileSync(target, out + '\n');
process.stdout.write(`sample sha256 ${sampleSha256}\n${losses.length} losses, first ${losses[0]}, last ${losses[losses.length - 1]}\n`);
