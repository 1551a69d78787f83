/**
 * Publish an element model run (`edm train --element-model`) inside a shipped checkpoint, as its
 * `elements/` folder: the run's latest weights (EMA), its whole training state (so that
 * `edm train --out COPY --resume` continues it exactly) and its log, written atomically. The
 * folder's hand-written TRAINING.md is kept. The checkpoint is loaded with its new element model
 * afterwards, so a model that does not fit it (elements, normalisation, schedule) is refused.
 *
 *   node --import tsx scripts/publish-element-model.ts runs/elements checkpoints/qm9-default
 */
import { copyFileSync, existsSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { ELEMENT_MODEL_DIR, initBackend, loadCheckpoint, loadSamplingModel, saveCheckpoint } from '../src/internal.js';

const [run, checkpoint] = process.argv.slice(2);
if (!run || !checkpoint) {
  process.stderr.write('usage: publish-element-model.ts RUN_DIR CHECKPOINT_DIR\n');
  process.exit(2);
}
await initBackend('wasm');
const ck = loadCheckpoint(resolve(run), true);
if (!ck.config.elementModel) {
  process.stderr.write(`publish-element-model: ${run} is not an element model run\n`);
  process.exit(2);
}
const dest = join(resolve(checkpoint), ELEMENT_MODEL_DIR);
await saveCheckpoint(dest, ck.config, ck.params, { tensors: ck.trainState!.tensors, state: ck.trainState!.state }, 'final');
for (const f of ['train-log.jsonl']) {
  if (existsSync(join(run, f))) copyFileSync(join(run, f), join(dest, f));
}
// no learning-curve files: an element model's curve is the accuracy in its log
for (const f of ['curve.csv', 'curve.svg', 'report.html', 'train-reference.json.gz']) rmSync(join(dest, f), { force: true });
tf.dispose([...Object.values(ck.params), ...Object.values(ck.trainState!.tensors)]);
const model = loadSamplingModel(resolve(checkpoint));
const state = ck.trainState!.state as { step: number; cpuSeconds?: number };
process.stdout.write(`${dest}: element model at step ${state.step} (${((state.cpuSeconds ?? 0) / 3600).toFixed(2)} CPU-hours), loads with ${checkpoint}: ${model.elements ? 'yes' : 'no'}\n`);
