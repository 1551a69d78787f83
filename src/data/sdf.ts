/**
 * SDF / MOL (V2000) reader and writer. Records hold atoms, bonds and data fields; the writer
 * emits one record per molecule with its bonds and properties as `> <name>` fields.
 */
import { InputError } from '../errors.js';
import { readText } from './files.js';
import type { Bond, Molecule } from './molecule.js';
import { normaliseElement, unknownElement } from './xyz.js';

const ELEMENT_RE = /^[A-Z][a-z]?$/;

/**
 * Parse SDF text (V2000 records separated by `$$$$`).
 * @param source file name for error messages
 * @throws InputError naming file and line for an empty file, a truncated record, a bad counts
 *   line, a non-numeric or non-finite coordinate, a bad element or bond, or a V3000 record
 */
export function parseSdf(text: string, source = '<sdf>', knownElements?: readonly string[]): Molecule[] {
  const lines = text.split(/\r?\n/);
  const mols: Molecule[] = [];
  let ln = 0;
  const need = (k: number, what: string): string => {
    if (k >= lines.length) throw new InputError(`truncated record: the file ends inside ${what}`, source, lines.length);
    return lines[k];
  };
  while (ln < lines.length) {
    // trailing blank lines end the file (a record's own first line, its name, may be blank)
    let rest = ln;
    while (rest < lines.length && lines[rest].trim() === '') rest++;
    if (rest >= lines.length) break;
    const start = ln;
    const name = lines[ln].trim();
    const counts = need(ln + 3, 'the header');
    if (/V3000/.test(counts)) throw new InputError('V3000 molfiles are not supported; convert to V2000', source, ln + 4);
    const nAtoms = Number(counts.slice(0, 3));
    const nBonds = Number(counts.slice(3, 6));
    if (!Number.isInteger(nAtoms) || !Number.isInteger(nBonds) || nAtoms < 1 || nBonds < 0 || counts.trim() === '') {
      throw new InputError(`bad counts line "${counts.trim().slice(0, 40)}" (expected atom and bond counts)`, source, ln + 4);
    }
    const elements: string[] = [];
    const positions = new Float32Array(nAtoms * 3);
    for (let i = 0; i < nAtoms; i++) {
      const k = start + 4 + i;
      const line = need(k, `the atom block (atom ${i + 1} of ${nAtoms})`);
      if (line.trim() === '') throw new InputError(`truncated record: atom ${i + 1} of ${nAtoms} is missing`, source, k + 1);
      // V2000 atom lines are fixed-width: x, y, z in columns 1-30 (10 each), symbol in 32-34
      const tok = line.length >= 34 ? [line.slice(0, 10), line.slice(10, 20), line.slice(20, 30), line.slice(31, 34)].map((t) => t.trim()) : line.trim().split(/\s+/);
      if (tok.length < 4 || tok[3] === '') throw new InputError(`atom ${i + 1}: expected "x y z element", found "${line.trim().slice(0, 60)}"`, source, k + 1);
      for (let d = 0; d < 3; d++) {
        const v = tok[d] === '' ? NaN : Number(tok[d]);
        if (!Number.isFinite(v)) throw new InputError(`atom ${i + 1}: coordinate "${tok[d]}" is not a finite number`, source, k + 1);
        positions[i * 3 + d] = v;
      }
      const el = normaliseElement(tok[3]);
      if (!ELEMENT_RE.test(el)) throw new InputError(`atom ${i + 1}: "${tok[3]}" is not an element symbol`, source, k + 1);
      if (knownElements && !knownElements.includes(el)) unknownElement(el, knownElements, source, k + 1);
      elements.push(el);
    }
    const bonds: Bond[] = [];
    for (let b = 0; b < nBonds; b++) {
      const k = start + 4 + nAtoms + b;
      const line = need(k, `the bond block (bond ${b + 1} of ${nBonds})`);
      const i = Number(line.slice(0, 3));
      const j = Number(line.slice(3, 6));
      const order = Number(line.slice(6, 9));
      if (!Number.isInteger(i) || !Number.isInteger(j) || i < 1 || j < 1 || i > nAtoms || j > nAtoms || !(order >= 1 && order <= 4)) {
        throw new InputError(`bond ${b + 1}: bad bond line "${line.trim()}"`, source, k + 1);
      }
      bonds.push({ i: i - 1, j: j - 1, order });
    }
    ln = start + 4 + nAtoms + nBonds;
    const properties: Record<string, string | number> = {};
    while (ln < lines.length && !lines[ln].startsWith('$$$$')) {
      const m = /^>\s*.*<([^>]+)>/.exec(lines[ln]);
      if (m) {
        const vals: string[] = [];
        ln++;
        while (ln < lines.length && lines[ln].trim() !== '' && !lines[ln].startsWith('$$$$')) vals.push(lines[ln++]);
        properties[m[1]] = vals.join('\n');
        continue;
      }
      ln++;
    }
    ln++; // past $$$$
    mols.push({ elements, positions, bonds, name, properties });
  }
  if (mols.length === 0) throw new InputError('no molecules: the file is empty', source);
  return mols;
}

/** Read an `.sdf`, `.sdf.gz` or `.mol` file. */
export function readSdf(path: string, knownElements?: readonly string[]): Molecule[] {
  return parseSdf(readText(path), path, knownElements);
}

const f104 = (v: number): string => v.toFixed(4).padStart(10);
const i3 = (v: number): string => String(v).padStart(3);

/**
 * A V2000 molblock (no `$$$$`, no data fields).
 * @param bonds bonds to write (default: the generator's own, else the molecule's)
 * @throws InputError if the molecule has more than 999 atoms or bonds (V2000's limit)
 */
export function toMolBlock(m: Molecule, bonds: Bond[] = m.modelBonds ?? m.bonds ?? []): string {
  const n = m.elements.length;
  if (n > 999 || bonds.length > 999) throw new InputError(`molecule ${m.name ?? ''} is too large for V2000 (${n} atoms, ${bonds.length} bonds)`);
  const out: string[] = [(m.name ?? '').replace(/\r?\n/g, ' ').slice(0, 80), '  edm-ts          3D', ''];
  out.push(`${i3(n)}${i3(bonds.length)}  0  0  0  0  0  0  0  0999 V2000`);
  for (let i = 0; i < n; i++) {
    const p = m.positions;
    out.push(`${f104(p[i * 3])}${f104(p[i * 3 + 1])}${f104(p[i * 3 + 2])} ${m.elements[i].padEnd(3)} 0  0  0  0  0  0  0  0  0  0  0  0`);
  }
  for (const b of bonds) out.push(`${i3(b.i + 1)}${i3(b.j + 1)}${i3(b.order)}  0`);
  out.push('M  END');
  return out.join('\n');
}

/**
 * SDF text: one record per molecule with bonds and `properties` as data fields.
 */
export function formatSdf(mols: Molecule[]): string {
  const out: string[] = [];
  for (const m of mols) {
    out.push(toMolBlock(m));
    for (const [k, v] of Object.entries(m.properties ?? {})) {
      out.push(`>  <${k}>`);
      out.push(String(v));
      out.push('');
    }
    out.push('$$$$');
  }
  return out.join('\n') + '\n';
}
