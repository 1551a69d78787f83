/**
 * XYZ reader and writer: single and multi-frame files, `.gz`, and QM9's own per-molecule files
 * (atom lines with a fifth column of partial charges, Mathematica `*^` exponents, and trailing
 * frequency / SMILES / InChI lines).
 */
import { InputError } from '../errors.js';
import { readText } from './files.js';
import type { Molecule } from './molecule.js';

/** Options of `parseXyz`. */
export interface XyzOptions {
  /** file name used in error messages */
  source?: string;
  /** read only the first frame and ignore whatever follows (QM9's dsgdb9nsd_*.xyz files) */
  firstFrameOnly?: boolean;
  /** if given, any other element is an InputError naming it, its line and this list */
  knownElements?: readonly string[];
}

/** Throw the error for an element outside `known`. */
export function unknownElement(el: string, known: readonly string[], source: string, line: number): never {
  throw new InputError(`unknown element ${el}; known elements are ${known.join(', ')}`, source, line);
}

/** Parse a number as written in XYZ files, including QM9's `1.5*^-6`. */
function parseCoord(tok: string): number {
  return Number(tok.includes('*^') ? tok.replace('*^', 'e') : tok);
}

/** Normalise an element symbol's case: `CL` / `cl` -> `Cl`. */
export function normaliseElement(sym: string): string {
  return sym.length === 0 ? sym : sym[0].toUpperCase() + sym.slice(1).toLowerCase();
}

const ELEMENT_RE = /^[A-Z][a-z]?$/;

/**
 * Parse XYZ text into molecules.
 * @throws InputError naming file and line for an empty file, a bad atom count, a truncated
 *   frame, a non-numeric or non-finite coordinate, or a malformed element symbol
 */
export function parseXyz(text: string, opts: XyzOptions = {}): Molecule[] {
  const source = opts.source ?? '<xyz>';
  const lines = text.split(/\r?\n/);
  const mols: Molecule[] = [];
  let ln = 0;
  while (ln < lines.length) {
    if (lines[ln].trim() === '') {
      ln++;
      continue;
    }
    const countTok = lines[ln].trim();
    const n = Number(countTok);
    if (!Number.isInteger(n) || n <= 0) {
      throw new InputError(`expected an atom count (a positive integer) at the start of a frame, found "${countTok.slice(0, 40)}"`, source, ln + 1);
    }
    const name = (lines[ln + 1] ?? '').trim();
    const elements: string[] = [];
    const positions = new Float32Array(n * 3);
    for (let i = 0; i < n; i++) {
      const lineNo = ln + 2 + i;
      const line = lines[lineNo];
      const tok = line === undefined ? [] : line.trim().split(/\s+/);
      if (tok.length < 4 || tok[0] === '') {
        throw new InputError(`truncated frame: expected "element x y z" for atom ${i + 1} of ${n}, found "${(line ?? '').trim().slice(0, 60)}"`, source, lineNo + 1);
      }
      let el = tok[0];
      if (/^\d+$/.test(el)) {
        throw new InputError(`atom ${i + 1}: element given as a number (${el}); use element symbols`, source, lineNo + 1);
      }
      el = normaliseElement(el);
      if (!ELEMENT_RE.test(el)) throw new InputError(`atom ${i + 1}: "${tok[0]}" is not an element symbol`, source, lineNo + 1);
      if (opts.knownElements && !opts.knownElements.includes(el)) unknownElement(el, opts.knownElements, source, lineNo + 1);
      elements.push(el);
      for (let d = 0; d < 3; d++) {
        const v = parseCoord(tok[1 + d]);
        if (!Number.isFinite(v)) {
          throw new InputError(`atom ${i + 1}: coordinate "${tok[1 + d]}" is not a finite number`, source, lineNo + 1);
        }
        positions[i * 3 + d] = v;
      }
    }
    mols.push({ elements, positions, name });
    ln += 2 + n;
    if (opts.firstFrameOnly) break;
  }
  if (mols.length === 0) throw new InputError('no molecules: the file is empty', source);
  return mols;
}

/**
 * Read an `.xyz` or `.xyz.gz` file. QM9's `dsgdb9nsd_*.xyz` files are read as one frame.
 * @throws InputError as `parseXyz`, or when the file cannot be read
 */
export function readXyz(path: string, knownElements?: readonly string[]): Molecule[] {
  const base = path.split(/[\\/]/).pop() ?? path;
  return parseXyz(readText(path), { source: path, firstFrameOnly: base.startsWith('dsgdb9nsd_'), knownElements });
}

/**
 * Write molecules as multi-frame XYZ text (positions with 6 decimals, Å).
 * @param comment per-molecule comment line (default: the molecule's name)
 */
export function formatXyz(mols: Molecule[], comment?: (m: Molecule, i: number) => string): string {
  const out: string[] = [];
  mols.forEach((m, k) => {
    out.push(String(m.elements.length));
    out.push((comment ? comment(m, k) : m.name ?? '').replace(/\r?\n/g, ' '));
    m.elements.forEach((e, i) => {
      const p = m.positions;
      out.push(`${e.padEnd(2)} ${p[i * 3].toFixed(6).padStart(12)} ${p[i * 3 + 1].toFixed(6).padStart(12)} ${p[i * 3 + 2].toFixed(6).padStart(12)}`);
    });
  });
  return out.join('\n') + '\n';
}
