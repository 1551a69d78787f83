/**
 * Joining the SDF files of a sharded run (`edm sample --shard i/k`) into the file the unsharded
 * run writes: records are kept as written (not re-formatted), ordered by their `sample k` names.
 */
import { parseSdf } from '../data/sdf.js';
import { readText } from '../data/files.js';
import type { Molecule } from '../data/molecule.js';
import { InputError } from '../errors.js';

/** The merged text and its molecules, in order. */
export interface MergedSamples {
  /** SDF text: the records of all files, ordered by sample number */
  sdf: string;
  molecules: Molecule[];
  /** sample numbers missing between 1 and the largest one (a shard not merged, or lost) */
  missing: number[];
}

/** SDF records of a text, each with its terminating `$$$$` line. */
function records(text: string): string[] {
  return text
    .split(/(?<=^\$\$\$\$\r?\n)/m)
    .filter((r) => r.trim() !== '');
}

/**
 * Merge shard files. Records must be named `sample k` (as `edm sample` names them).
 * @throws InputError naming the file for an unreadable or malformed file, a record without a
 *   sample name, or a sample present twice
 */
export function mergeSampleFiles(paths: string[]): MergedSamples {
  const entries: { k: number; text: string; molecule: Molecule; file: string }[] = [];
  for (const file of paths) {
    if (!/\.(sdf|sd)(\.gz)?$/i.test(file)) throw new InputError('edm merge joins the SDF files of a sharded edm sample run (--shard i/k, --out *.sdf)', file);
    for (const text of records(readText(file))) {
      const [molecule] = parseSdf(text, file);
      const k = /^sample (\d+)$/.exec(molecule.name ?? '')?.[1];
      if (!k) throw new InputError(`record "${molecule.name ?? ''}" is not named "sample N" (made by edm sample?)`, file);
      entries.push({ k: Number(k), text: text.endsWith('\n') ? text : `${text}\n`, molecule, file });
    }
  }
  entries.sort((a, b) => a.k - b.k);
  for (let i = 1; i < entries.length; i++) {
    if (entries[i].k === entries[i - 1].k) throw new InputError(`sample ${entries[i].k} is also in ${entries[i - 1].file}`, entries[i].file);
  }
  const present = new Set(entries.map((e) => e.k));
  const last = entries.length ? entries[entries.length - 1].k : 0;
  const missing = Array.from({ length: last }, (_, i) => i + 1).filter((k) => !present.has(k));
  return { sdf: entries.map((e) => e.text).join(''), molecules: entries.map((e) => e.molecule), missing };
}
