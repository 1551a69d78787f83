/**
 * QM9's own distribution: a .tar.bz2 of dsgdb9nsd_<id>.xyz files, split rebuilt from id lists.
 */
import { describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tarStream from 'tar-stream';
// @ts-expect-error compressjs ships no types
import compressjs from 'compressjs';
import { loadQm9Split } from '../src/data/qm9.js';

function qm9File(id: number, atoms: [string, number, number, number][]): string {
  return [
    String(atoms.length),
    `gdb ${id}\t1.0\t2.0\t3.0`,
    ...atoms.map(([e, x, y, z]) => `${e}\t${x}\t${y}\t${z}\t0.1`),
    '100.0\t200.0',
    'C\tC',
    'InChI=1S/x\tInChI=1S/x',
  ].join('\n');
}

async function tarOf(files: Record<string, string>): Promise<Buffer> {
  const pack = tarStream.pack();
  for (const [name, text] of Object.entries(files)) pack.entry({ name }, text);
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

describe('QM9 archive', () => {
  it('loads a split from dsgdb9nsd.xyz.tar.bz2 and splits/<split>_ids.txt, in id-list order', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'edm-qm9tar-'));
    const files: Record<string, string> = {};
    for (const id of [1, 2, 3, 4]) files[`dsgdb9nsd_${String(id).padStart(6, '0')}.xyz`] = qm9File(id, [['C', 0, 0, 0], ['H', 1.09, 0, 1.5e-6 * id]]);
    const tar = await tarOf(files);
    writeFileSync(join(dir, 'dsgdb9nsd.xyz.tar.bz2'), Buffer.from(compressjs.Bzip2.compressFile(tar)));
    mkdirSync(join(dir, 'splits'));
    writeFileSync(join(dir, 'splits', 'train_ids.txt'), '3\n1\n9\n');
    const mols = await loadQm9Split(dir, 'train', ['H', 'C', 'N', 'O', 'F']);
    expect(mols.map((m) => m.name)).toEqual(['gdb 3', 'gdb 1']); // id 9 is absent from the archive
    expect(mols[0].elements).toEqual(['C', 'H']);
    expect(mols[0].positions[5]).toBeCloseTo(4.5e-6, 12);
  });

  it('reports a corrupt archive clearly', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'edm-qm9bad-'));
    writeFileSync(join(dir, 'dsgdb9nsd.xyz.tar.bz2'), 'not bzip2 at all');
    mkdirSync(join(dir, 'splits'));
    writeFileSync(join(dir, 'splits', 'valid_ids.txt'), '1\n');
    await expect(loadQm9Split(dir, 'valid')).rejects.toThrow(/dsgdb9nsd\.xyz\.tar\.bz2: cannot read the QM9 archive/);
  });
});
