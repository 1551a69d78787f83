/**
 * Readers and writers: round trips, QM9's own format, and clear errors on bad input.
 */
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { InputError } from '../src/errors.js';
import { parseSdf, formatSdf } from '../src/data/sdf.js';
import { parseXyz, formatXyz, readXyz } from '../src/data/xyz.js';
import { readMolecules } from '../src/data/read.js';
import { writeMolecules } from '../src/decode/write.js';
import { SHARED, skipWithoutShared } from './helpers.js';

const tmp = mkdtempSync(join(tmpdir(), 'edm-readers-'));
const water = '3\nwater\nO 0.0 0.0 0.0\nH 0.96 0.0 0.0\nH -0.24 0.93 0.0\n';

describe('XYZ', () => {
  it('reads single and multi-frame files, and .gz', () => {
    const two = parseXyz(water + water.replace('water', 'again'));
    expect(two).toHaveLength(2);
    expect(two[1].name).toBe('again');
    expect(Array.from(two[0].positions)).toEqual([0, 0, 0, 0.96, 0, 0, -0.24, 0.93, 0].map((v) => Math.fround(v)));
    const gz = join(tmp, 'w.xyz.gz');
    writeFileSync(gz, gzipSync(water));
    expect(readXyz(gz)[0].elements).toEqual(['O', 'H', 'H']);
  });

  it("reads QM9's own per-molecule files (charges column, *^ exponents, trailing lines)", () => {
    const text = [
      '3',
      'gdb 5\t157.7118\t157.70997\t157.70699\t0.\t13.21\t-0.3877',
      'C\t-0.0126981359\t 1.0858041578\t 0.0080009958\t-0.535689',
      'H\t 0.002150416\t-0.0060313176\t 0.0019761204\t 0.133921',
      'H\t 1.0117308433\t 1.4637511618\t 1.2345*^-6\t 0.133922',
      '1341.307\t1341.3284\t1341.365',
      'C\tC',
      'InChI=1S/CH4/h1H4\tInChI=1S/CH4/h1H4',
    ].join('\n');
    const path = join(tmp, 'dsgdb9nsd_000005.xyz');
    writeFileSync(path, text);
    const [m] = readXyz(path);
    expect(m.elements).toEqual(['C', 'H', 'H']);
    expect(m.positions[8]).toBeCloseTo(1.2345e-6, 12);
  });

  it('round-trips through formatXyz', () => {
    const mols = parseXyz(water);
    const back = parseXyz(formatXyz(mols));
    expect(back[0].elements).toEqual(mols[0].elements);
    back[0].positions.forEach((v, i) => expect(v).toBeCloseTo(mols[0].positions[i], 5));
  });

  const bad: [string, string, RegExp][] = [
    ['empty file', '', /no molecules: the file is empty/],
    ['truncated frame', '3\nwater\nO 0 0 0\nH 0.96 0 0\n', /bad\.xyz:5: truncated frame: expected "element x y z" for atom 3 of 3/],
    ['non-numeric coordinate', '3\nw\nO 0 0 0\nH 0.96 abc 0\nH 0 1 0\n', /bad\.xyz:4: atom 2: coordinate "abc" is not a finite number/],
    ['NaN coordinate', '3\nw\nO 0 0 0\nH 0.96 NaN 0\nH 0 1 0\n', /bad\.xyz:4: atom 2: coordinate "NaN" is not a finite number/],
    ['bad atom count', 'three\nw\n', /bad\.xyz:1: expected an atom count/],
  ];
  for (const [name, text, re] of bad) {
    it(`rejects ${name} with file and line`, () => {
      expect(() => parseXyz(text, { source: 'bad.xyz' })).toThrow(InputError);
      expect(() => parseXyz(text, { source: 'bad.xyz' })).toThrow(re);
    });
  }

  it('names an unknown element, its line and the known elements', () => {
    const text = '3\nw\nO 0 0 0\nXe 0.96 0 0\nH 0 1 0\n';
    expect(() => parseXyz(text, { source: 'x.xyz', knownElements: ['H', 'C', 'N', 'O', 'F'] })).toThrow(
      /x\.xyz:4: unknown element Xe; known elements are H, C, N, O, F/,
    );
  });
});

describe('SDF', () => {
  it('round-trips molecules with bonds and data fields', () => {
    const mols = parseXyz(water);
    const text = formatSdf([{ ...mols[0], bonds: [{ i: 0, j: 1, order: 1 }, { i: 0, j: 2, order: 1 }], properties: { energy: -76.4, note: 'hi' } }]);
    const [m] = parseSdf(text);
    expect(m.elements).toEqual(['O', 'H', 'H']);
    expect(m.bonds).toEqual([{ i: 0, j: 1, order: 1 }, { i: 0, j: 2, order: 1 }]);
    expect(m.properties).toEqual({ energy: '-76.4', note: 'hi' });
  });

  it('reads coordinates that fill their 10 columns', () => {
    const line = (x: string, y: string, z: string, el: string) => `${x.padStart(10)}${y.padStart(10)}${z.padStart(10)} ${el.padEnd(3)} 0  0`;
    const text = ['big', '', '', '  2  0  0  0  0  0  0  0  0  0999 V2000', line('-131.9089', '-93.7611', '-1073.7650', 'C'), line('0.0', '0.0', '0.0', 'H'), 'M  END', '$$$$'].join('\n');
    const [m] = parseSdf(text);
    expect(m.positions[2]).toBeCloseTo(-1073.765, 3);
  });

  it('rejects a truncated record, a bad counts line, a bad bond and V3000', () => {
    expect(() => parseSdf('x\n\n\n  3  0  0  0  0  0  0  0  0  0999 V2000\n    0.0000    0.0000    0.0000 C   0\n', 's.sdf')).toThrow(/s\.sdf:\d+: truncated record/);
    expect(() => parseSdf('x\n\n\nabc\n', 's.sdf')).toThrow(/s\.sdf:4: bad counts line/);
    expect(() => parseSdf('x\n\n\n  1  1  0  0  0  0  0  0  0  0999 V2000\n    0.0000    0.0000    0.0000 C   0\n  1  2  1  0\nM  END\n', 's.sdf')).toThrow(/s\.sdf:6: bond 1: bad bond line/);
    expect(() => parseSdf('x\n\n\n  0  0  0     0  0            999 V3000\n', 's.sdf')).toThrow(/V3000/);
    expect(() => parseSdf('', 's.sdf')).toThrow(/empty/);
  });

  it('reads the ligands of ../shared/data/pockets', (ctx) => {
    skipWithoutShared(ctx);
    const dir = join(SHARED, 'data', 'pockets');
    for (const f of readdirSync(dir).filter((x) => x.endsWith('.sdf'))) {
      const mols = readMolecules(join(dir, f));
      expect(mols.length, f).toBeGreaterThan(0);
      expect(mols[0].elements.length, f).toBeGreaterThan(5);
    }
  });
});

describe('writers', () => {
  it('write SDF with inferred bonds atomically, and refuse an unknown extension', () => {
    const mols = parseXyz(water);
    const out = join(tmp, 'out.sdf');
    writeMolecules(out, mols);
    const [m] = readMolecules(out);
    expect(m.bonds).toHaveLength(2);
    expect(m.properties?.molecule_stable).toBe('1');
    expect(readdirSync(tmp).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    expect(() => writeMolecules(join(tmp, 'out.pdb'), mols)).toThrow(/unknown output type/);
    expect(() => writeMolecules(join(tmp, 'no', 'such', 'dir.sdf'), mols)).toThrow(/cannot write file/);
  });
});
