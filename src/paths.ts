/**
 * Where the package keeps what it ships, and where the team's machines keep QM9. These defaults
 * are resolved at run time; help texts describe them in words, the same on every machine.
 */
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Root of the installed package (holds checkpoints/); this file is src/paths.ts or dist/paths.js. */
export const PACKAGE_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** The checkpoint `edm sample` uses when none is given: the shipped QM9 model. */
export const DEFAULT_CHECKPOINT = resolve(PACKAGE_ROOT, 'checkpoints', 'qm9-default');

/** QM9 in EDM's split, where the team's machines keep it: `../shared/data/qm9` beside the package. */
export const DEFAULT_QM9_DIR = resolve(PACKAGE_ROOT, '..', 'shared', 'data', 'qm9');

/** The training file used for novelty when nothing else is given (QM9 train split, if present). */
export const DEFAULT_TRAIN_FILE = join(DEFAULT_QM9_DIR, 'qm9_train.xyz.gz');
