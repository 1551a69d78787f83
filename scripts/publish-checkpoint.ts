/**
 * Copy a training run's latest checkpoint (EMA weights + training state, so training can resume
 * on another machine) into checkpoints/<name>, validated and written atomically.
 *
 *   node --import tsx scripts/publish-checkpoint.ts runs/qm9-nf64-l4 checkpoints/qm9-default
 */
import { copyFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { initBackend } from '../src/backend.js';
import { loadCheckpoint, saveCheckpoint } from '../src/checkpoint/format.js';

const [from, to] = process.argv.slice(2);
if (!from || !to) {
  process.stderr.write('usage: publish-checkpoint.ts RUN_DIR CHECKPOINT_DIR\n');
  process.exit(2);
}
await initBackend('wasm');
const ck = loadCheckpoint(from, true);
await saveCheckpoint(to, ck.config, ck.params, ck.trainState, 'final');
if (existsSync(join(from, 'train-log.jsonl'))) copyFileSync(join(from, 'train-log.jsonl'), join(to, 'train-log.jsonl'));
const t = ck.config.training ?? {};
process.stdout.write(`published ${from} -> ${to}: step ${t.steps}, ${Number(t.epochs).toFixed(2)} epochs, ${t.wallTimeSeconds} s\n`);
