/**
 * QM9 (Ramakrishnan et al. 2014) loaders: the EDM-split multi-frame files in ../shared/data/qm9,
 * or QM9's own distribution (a folder of dsgdb9nsd_*.xyz) with the split rebuilt from id lists.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../errors.js';
import { readText } from './files.js';
import type { Molecule } from './molecule.js';
import { readXyz } from './xyz.js';

/** The three splits of EDM (train 100,000 / valid 17,748 / test 13,083 before the source's gaps). */
export type Split = 'train' | 'valid' | 'test';

/**
 * Load a split from a folder holding `qm9_<split>.xyz(.gz)` (the shared EDM split) or QM9's own
 * `dsgdb9nsd_*.xyz` files plus `splits/<split>_ids.txt`.
 * @throws InputError if neither layout is found
 */
export function loadQm9Split(dir: string, split: Split, knownElements?: readonly string[]): Molecule[] {
  for (const name of [`qm9_${split}.xyz.gz`, `qm9_${split}.xyz`]) {
    const p = join(dir, name);
    if (existsSync(p)) return readXyz(p, knownElements);
  }
  const idsPath = [join(dir, 'splits', `${split}_ids.txt`), join(dir, `${split}_ids.txt`)].find(existsSync);
  if (idsPath) {
    const files = new Map<number, string>();
    for (const f of readdirSync(dir)) {
      const m = /^dsgdb9nsd_(\d+)\.xyz$/.exec(f);
      if (m) files.set(Number(m[1]), f);
    }
    if (files.size > 0) {
      const ids = readText(idsPath).split(/\s+/).filter(Boolean).map(Number);
      const out: Molecule[] = [];
      for (const id of ids) {
        const f = files.get(id);
        if (f) out.push({ ...readXyz(join(dir, f), knownElements)[0], name: `gdb ${id}` });
      }
      return out;
    }
  }
  throw new InputError(`no QM9 ${split} split found (expected qm9_${split}.xyz.gz, or dsgdb9nsd_*.xyz files with splits/${split}_ids.txt)`, dir);
}
