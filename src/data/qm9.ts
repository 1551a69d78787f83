/**
 * QM9 (Ramakrishnan et al. 2014) loaders: the EDM-split multi-frame files in ../shared/data/qm9,
 * or QM9's own distribution (a folder of dsgdb9nsd_*.xyz) with the split rebuilt from id lists.
 */
import { createReadStream, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import tarStream from 'tar-stream';
import bz2 from 'unbzip2-stream';
import { InputError } from '../errors.js';
import { readText } from './files.js';
import type { Molecule } from './molecule.js';
import { parseXyz, readXyz } from './xyz.js';

const QM9_FILE_RE = /(?:^|\/)dsgdb9nsd_(\d+)\.xyz$/;

/** Read the ids of a split file (one integer per line). @throws InputError naming the file and the bad id */
export function readIds(path: string): number[] {
  const ids = readText(path).split(/\s+/).filter(Boolean).map(Number);
  const bad = ids.findIndex((v) => !Number.isInteger(v) || v < 1);
  if (bad >= 0) throw new InputError(`id ${bad + 1} is not a positive integer`, path);
  return ids;
}

/**
 * Load molecules with the given ids from QM9's own archive (`dsgdb9nsd.xyz.tar.bz2`: one
 * `dsgdb9nsd_<id>.xyz` file per molecule), streaming, in the order of `ids`.
 * @throws InputError for an unreadable or corrupt archive, or a malformed member file
 */
export async function loadQm9Archive(archive: string, ids: number[], knownElements?: readonly string[]): Promise<Molecule[]> {
  const wanted = new Set(ids);
  const found = new Map<number, Molecule>();
  const extract = tarStream.extract();
  extract.on('entry', (header, stream, next) => {
    const m = QM9_FILE_RE.exec(header.name);
    const id = m ? Number(m[1]) : NaN;
    if (!m || !wanted.has(id)) {
      stream.on('end', next);
      stream.resume();
      return;
    }
    const chunks: Buffer[] = [];
    stream.on('data', (c: unknown) => chunks.push(c as Buffer));
    stream.on('end', () => {
      try {
        const [mol] = parseXyz(Buffer.concat(chunks).toString('utf8'), { source: `${archive}:${header.name}`, firstFrameOnly: true, knownElements });
        found.set(id, { ...mol, name: `gdb ${id}` });
        next();
      } catch (e) {
        next(e as Error);
      }
    });
  });
  try {
    await pipeline(createReadStream(archive), bz2(), extract);
  } catch (e) {
    if (e instanceof InputError) throw e;
    throw new InputError(`cannot read the QM9 archive (${(e as Error).message})`, archive);
  }
  return ids.filter((id) => found.has(id)).map((id) => found.get(id)!);
}

/** The three splits of EDM (train 100,000 / valid 17,748 / test 13,083 before the source's gaps). */
export type Split = 'train' | 'valid' | 'test';

/**
 * Load a split from a folder holding `qm9_<split>.xyz(.gz)` (the shared EDM split), or QM9's own
 * distribution (`dsgdb9nsd_*.xyz` files, or the `*.tar.bz2` archive holding them) plus
 * `splits/<split>_ids.txt` to rebuild EDM's split.
 * @throws InputError if no layout is found or a file is malformed
 */
export async function loadQm9Split(dir: string, split: Split, knownElements?: readonly string[]): Promise<Molecule[]> {
  for (const name of [`qm9_${split}.xyz.gz`, `qm9_${split}.xyz`]) {
    const p = join(dir, name);
    if (existsSync(p)) return readXyz(p, knownElements);
  }
  const idsPath = [join(dir, 'splits', `${split}_ids.txt`), join(dir, `${split}_ids.txt`)].find(existsSync);
  const archive = existsSync(dir) ? readdirSync(dir).find((f) => f.endsWith('.tar.bz2')) : undefined;
  if (idsPath && archive) return loadQm9Archive(join(dir, archive), readIds(idsPath), knownElements);
  if (idsPath) {
    const files = new Map<number, string>();
    for (const f of readdirSync(dir)) {
      const m = /^dsgdb9nsd_(\d+)\.xyz$/.exec(f);
      if (m) files.set(Number(m[1]), f);
    }
    if (files.size > 0) {
      const ids = readIds(idsPath);
      const out: Molecule[] = [];
      for (const id of ids) {
        const f = files.get(id);
        if (f) out.push({ ...readXyz(join(dir, f), knownElements)[0], name: `gdb ${id}` });
      }
      return out;
    }
  }
  throw new InputError(`no QM9 ${split} split found (expected qm9_${split}.xyz.gz, or dsgdb9nsd_*.xyz files or their .tar.bz2 with splits/${split}_ids.txt)`, dir);
}
