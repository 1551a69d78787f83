/**
 * PDB reader for protein structures: ATOM/HETATM records of the first model, the first
 * alternate location of each atom, waters and ions dropped. Column layout of the wwPDB format
 * v3.3 (ATOM record: name 13-16, altLoc 17, resName 18-20, chain 22, resSeq 23-26, iCode 27,
 * x/y/z 31-54, element 77-78).
 */
import { InputError } from '../errors.js';
import { readText } from '../data/files.js';
import { normaliseElement } from '../data/xyz.js';

/** One atom of a structure. Positions in Å. */
export interface ProteinAtom {
  /** atom name, e.g. `CA` */
  name: string;
  resName: string;
  chain: string;
  resSeq: number;
  iCode: string;
  /** element symbol, e.g. `C`, `Fe` */
  element: string;
  x: number;
  y: number;
  z: number;
  /** HETATM record */
  hetero: boolean;
  /** 1-based line in the source file */
  line: number;
}

/** A parsed structure. */
export interface Protein {
  atoms: ProteinAtom[];
  /** file name for messages */
  source: string;
}

/** Elements a protein structure may hold (for the element check). */
const ELEMENTS = new Set(
  ('H He Li Be B C N O F Ne Na Mg Al Si P S Cl Ar K Ca Sc Ti V Cr Mn Fe Co Ni Cu Zn Ga Ge As Se Br Kr ' +
    'Rb Sr Y Zr Mo Ru Rh Pd Ag Cd In Sn Sb Te I Xe Cs Ba La Ce Gd Yb W Re Os Ir Pt Au Hg Tl Pb Bi U D').split(' '),
);

/** Residue names of waters. */
const WATERS = new Set(['HOH', 'WAT', 'DOD', 'H2O', 'TIP', 'TIP3', 'SOL']);

/** Residue names of common ions and small inorganic anions in crystal structures. */
const IONS = new Set([
  'NA', 'K', 'LI', 'CL', 'BR', 'IOD', 'F', 'MG', 'CA', 'MN', 'FE', 'FE2', 'CO', 'NI', 'CU', 'CU1', 'ZN', 'CD', 'HG',
  'SR', 'BA', 'CS', 'RB', 'AL', 'SO4', 'PO4', 'NO3', 'NH4', 'SCN', 'CO3', 'AZI',
]);

/** Element of a record: columns 77-78, else from the atom name (columns 13-16). */
function elementOf(line: string, name: string, source: string, lineNo: number): string {
  const col = line.slice(76, 78).trim();
  let el = col;
  if (!el) {
    // atom names put one-letter elements in column 14 (" CA "), two-letter ones in 13 ("FE  ")
    const raw = line.slice(12, 16);
    const letters = raw.replace(/[^A-Za-z]/g, '');
    el = raw[0] !== ' ' && /[A-Za-z]/.test(raw[0]) && ELEMENTS.has(normaliseElement(letters.slice(0, 2))) && !/^[HCNOS]/i.test(raw[0]) ? letters.slice(0, 2) : letters.slice(0, 1);
  }
  el = normaliseElement(el);
  if (el === 'D') el = 'H';
  if (!ELEMENTS.has(el)) {
    throw new InputError(`unknown element "${col || name}" in ${line.slice(0, 6).trim()} record`, source, lineNo);
  }
  return el;
}

/** Parse one coordinate field, or throw naming the line. */
function coord(line: string, from: number, source: string, lineNo: number, axis: string): number {
  const field = line.slice(from, from + 8).trim();
  const v = field === '' ? NaN : Number(field);
  if (!Number.isFinite(v)) throw new InputError(`malformed ${axis} coordinate "${field}" (columns ${from + 1}-${from + 8})`, source, lineNo);
  return v;
}

/**
 * Parse PDB text.
 * @param source file name used in messages
 * @returns atoms of the first model, waters and ions removed
 * @throws InputError naming file and line for a short record, a malformed coordinate or an
 *   unknown element; and for a file without ATOM/HETATM records
 */
export function parsePdb(text: string, source = '<pdb>'): Protein {
  const atoms: ProteinAtom[] = [];
  const seen = new Set<string>();
  const lines = text.split(/\r?\n/);
  let records = 0;
  for (let k = 0; k < lines.length; k++) {
    const line = lines[k];
    const rec = line.slice(0, 6);
    if (rec === 'ENDMDL' && records > 0) break; // first model only
    if (rec !== 'ATOM  ' && rec !== 'HETATM') continue;
    records++;
    const lineNo = k + 1;
    if (line.length < 54) throw new InputError(`${rec.trim()} record is too short (${line.length} columns, coordinates need 54)`, source, lineNo);
    const name = line.slice(12, 16).trim();
    const resName = line.slice(17, 20).trim();
    const chain = line.slice(21, 22).trim();
    const resSeq = Number(line.slice(22, 26));
    if (!Number.isInteger(resSeq)) throw new InputError(`malformed residue number "${line.slice(22, 26).trim()}"`, source, lineNo);
    const iCode = line.slice(26, 27).trim();
    const x = coord(line, 30, source, lineNo, 'x');
    const y = coord(line, 38, source, lineNo, 'y');
    const z = coord(line, 46, source, lineNo, 'z');
    const element = elementOf(line, name, source, lineNo);
    const key = `${chain}/${resSeq}${iCode}/${resName}/${name}`;
    if (seen.has(key)) continue; // a later alternate location of an atom already kept
    seen.add(key);
    if (WATERS.has(resName) || (rec === 'HETATM' && IONS.has(resName))) continue;
    atoms.push({ name, resName, chain, resSeq, iCode, element, x, y, z, hetero: rec === 'HETATM', line: lineNo });
  }
  if (records === 0) throw new InputError('no ATOM or HETATM records: not a structure (empty or header-only PDB file)', source);
  if (atoms.length === 0) throw new InputError('only waters and ions: no protein atoms left', source);
  return { atoms, source };
}

/**
 * Read a PDB file (optionally `.gz`).
 * @throws InputError as `parsePdb`, and for an unreadable file
 */
export function readPdb(path: string): Protein {
  return parsePdb(readText(path), path);
}

/** A residue's identity, for grouping atoms. */
export function residueKey(a: ProteinAtom): string {
  return `${a.chain}/${a.resSeq}${a.iCode}/${a.resName}`;
}

/** Format atoms as PDB ATOM/HETATM records (serials from `firstSerial`). */
export function formatPdbAtoms(atoms: ProteinAtom[], firstSerial = 1): string {
  const out: string[] = [];
  atoms.forEach((a, i) => {
    const rec = a.hetero ? 'HETATM' : 'ATOM  ';
    const name = a.element.length === 1 && a.name.length < 4 ? ` ${a.name}` : a.name;
    out.push(
      `${rec}${String((firstSerial + i) % 100000).padStart(5)} ${name.padEnd(4)} ${a.resName.padStart(3)} ${a.chain || ' '}` +
        `${String(a.resSeq).padStart(4)}${a.iCode || ' '}   ${a.x.toFixed(3).padStart(8)}${a.y.toFixed(3).padStart(8)}${a.z.toFixed(3).padStart(8)}` +
        `  1.00  0.00          ${a.element.toUpperCase().padStart(2)}`,
    );
  });
  return out.join('\n') + (out.length ? '\n' : '');
}
