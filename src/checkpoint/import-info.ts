/**
 * What an imported EDM PyTorch checkpoint lacks: the dataset information (atom decoder and the
 * atom-count histogram that sampling draws sizes from), taken from training molecules or from
 * an existing checkpoint.
 */
import { existsSync } from 'node:fs';
import type { DatasetInfo } from '../config.js';
import { QM9_ATOM_DECODER, datasetInfoFrom } from '../data/dataset.js';
import { readMolecules } from '../data/read.js';
import { CheckpointError } from '../errors.js';
import { loadCheckpoint } from './format.js';

/**
 * Dataset information for `edm import-torch`: from `trainFile` (QM9-like molecules) if given,
 * else from `fallbackFile` when it exists, else from `fallbackCheckpoint`'s.
 * @throws InputError for an unreadable training file; CheckpointError when nothing is available
 */
export function importDatasetInfo(trainFile: string | undefined, fallbackFile: string, fallbackCheckpoint: string): DatasetInfo {
  const file = trainFile ?? (existsSync(fallbackFile) ? fallbackFile : undefined);
  if (file) return datasetInfoFrom('qm9', readMolecules(file, QM9_ATOM_DECODER), QM9_ATOM_DECODER);
  if (existsSync(fallbackCheckpoint)) return loadCheckpoint(fallbackCheckpoint).config.dataset;
  throw new CheckpointError('no dataset info: give --train with the training molecules');
}
