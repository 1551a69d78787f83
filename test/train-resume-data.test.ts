/**
 * A resumed run trains on the data it started with (issue 41: `--resume` without
 * `--train-file` silently switched a run to QM9).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '../src/backend.js';
import { EDM_QM9_DIFFUSION, EDM_QM9_DYNAMICS } from '../src/config.js';
import { QM9_ATOM_DECODER, datasetInfoFrom } from '../src/data/dataset.js';
import { parseXyz } from '../src/data/xyz.js';
import { train } from '../src/train/trainer.js';

const A = parseXyz('3\nwater\nO 0 0 0\nH 0.96 0 0\nH -0.24 0.93 0\n3\nhcn\nH 0 0 -1.6\nC 0 0 -0.53\nN 0 0 0.62\n');
const B = parseXyz('3\nwater\nO 0 0 0\nH 0.97 0 0\nH -0.24 0.93 0\n3\nhcn\nH 0 0 -1.6\nC 0 0 -0.53\nN 0 0 0.62\n');

describe('resume', () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });

  it('refuses other training data than the run started with, naming both and the run\'s command', async () => {
    const outDir = join(mkdtempSync(join(tmpdir(), 'edm-resume-data-')), 'run');
    const base = { outDir, datasetInfo: datasetInfoFrom('qm9', A, QM9_ATOM_DECODER), dynamics: { ...EDM_QM9_DYNAMICS, nf: 8, nLayers: 1 }, diffusion: { ...EDM_QM9_DIFFUSION, timesteps: 50 }, batchSize: 2, workers: 0, command: 'edm train --train-file small.xyz --out run --steps 2' };
    await train({ ...base, train: A, maxSteps: 2 });
    // one coordinate differs by 0.01 Å
    await expect(train({ ...base, train: B, maxSteps: 3, resume: true })).rejects.toThrow(/was trained on 2 molecules \(fingerprint [0-9a-f]{16}\), and this command gives 2 \(fingerprint [0-9a-f]{16}\); give the run's own data \(it was started as: edm train --train-file small\.xyz/);
    const res = await train({ ...base, train: A, maxSteps: 3, resume: true });
    expect(res.step).toBe(3);
  });
});
