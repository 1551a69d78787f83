/**
 * A checkpoint of a run's raw (non-EMA) weights, to sample and score them beside the EMA weights
 * a checkpoint ships: reads the training state of SRC (`param/*` tensors) and writes DST with
 * those as its weights (no training state; SRC's training SMILES are copied for novelty).
 *
 *   node --import tsx scripts/raw-weights.ts checkpoints/qm9-default/latest .scratch/raw
 *
 * Refuses an existing DST; exits 2 with a one-line error for a checkpoint without training state.
 */
import { copyFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { CHECKPOINT_REFERENCE_FILE, loadCheckpoint, saveCheckpoint } from '../src/internal.js';

const [src, dst] = process.argv.slice(2);
const fail = (msg: string): never => {
  process.stderr.write(`raw-weights: ${msg}\n`);
  process.exit(2);
};
if (!src || !dst) fail('usage: raw-weights.ts SRC_CHECKPOINT DST_FOLDER');
if (existsSync(join(dst, 'config.json'))) fail(`${dst} already holds a checkpoint`);
let ck;
try {
  ck = loadCheckpoint(src, true);
} catch (e) {
  fail((e as Error).message);
}
const raw = Object.fromEntries(Object.keys(ck!.params).map((k) => [k, ck!.trainState!.tensors[`param/${k}`]]));
await saveCheckpoint(dst, ck!.config, raw);
if (existsSync(join(src, CHECKPOINT_REFERENCE_FILE))) copyFileSync(join(src, CHECKPOINT_REFERENCE_FILE), join(dst, CHECKPOINT_REFERENCE_FILE));
process.stdout.write(`wrote the raw weights of ${src} (step ${ck!.config.training?.steps ?? '?'}) to ${dst}\n`);
