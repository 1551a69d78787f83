/**
 * Writing generated molecules: bonds inferred from distances, stability as SDF data fields,
 * SDF or XYZ chosen by the file extension, written atomically.
 */
import { AtomicFileWriter, writeFileAtomic } from '../data/files.js';
import type { Molecule } from '../data/molecule.js';
import { formatSdf } from '../data/sdf.js';
import { formatXyz } from '../data/xyz.js';
import { InputError } from '../errors.js';
import { type BondProtocol, QM9_PROTOCOL, type Stability, inferBonds, stability } from './bonds.js';

/**
 * A generated molecule after the one decode step: bonds inferred from distances (EDM's rule) and
 * its stability, kept so that the writer and the evaluator use the same bonds without inferring
 * them again. Molecules read from files are never `DecodedMolecule`s (their bonds are the file's).
 */
export interface DecodedMolecule extends Molecule {
  bonds: NonNullable<Molecule['bonds']>;
  /** EDM's stability of these bonds */
  stability: Stability;
  /** the analysis the bonds were inferred by (QM9's or GEOM's) */
  protocol: BondProtocol['name'];
  /** the stability of a bond-aware model's own bonds (`modelBonds`), when it has them */
  modelStability?: Stability;
}

/** Whether a molecule went through the decode step (`withBondsAndStability`). */
export const isDecoded = (m: Molecule): m is DecodedMolecule => 'stability' in m && m.bonds !== undefined;

/**
 * A molecule's bonds from distances (EDM's rule): the decode step's when it went through it by the
 * analysis asked (any analysis when none is asked), else inferred now (QM9's by default).
 */
export const distanceBonds = (m: Molecule, protocol?: BondProtocol): NonNullable<Molecule['bonds']> =>
  isDecoded(m) && (protocol === undefined || m.protocol === protocol.name) ? m.bonds : inferBonds(m, protocol ?? QM9_PROTOCOL);

/**
 * EDM's stability of a molecule's distance bonds: the decode step's when it went through it,
 * else computed now on `bonds` (pass `distanceBonds(m)` when the caller has it, to infer once).
 */
export const distanceStability = (m: Molecule, bonds: NonNullable<Molecule['bonds']> = distanceBonds(m), protocol?: BondProtocol): Stability =>
  isDecoded(m) && (protocol === undefined || m.protocol === protocol.name) ? m.stability : stability(m, bonds);

/**
 * The stability of a bond-aware model's own bonds (`modelBonds`): the decode step's when it
 * scored them, else computed now; undefined for a molecule without own bonds.
 */
export const ownBondStability = (m: Molecule): Stability | undefined =>
  m.modelBonds && ((isDecoded(m) && m.modelStability) || stability(m, m.modelBonds));

/**
 * The decode step: copies of generated molecules with inferred bonds, their stability, and the
 * stability as properties (SDF data fields); a bond-aware model's own bonds are scored beside
 * them. Molecules already decoded by the same analysis are returned as they are.
 * @param protocol EDM's analysis to infer bonds by (GEOM's for GEOM-Drugs models); default: QM9's,
 *   and molecules already decoded keep theirs
 */
export function withBondsAndStability(mols: Molecule[], protocol?: BondProtocol): DecodedMolecule[] {
  return mols.map((m) => {
    // no protocol asked: a decoded molecule keeps its bonds (the writer writes what was scored)
    if (isDecoded(m) && (protocol === undefined || m.protocol === protocol.name)) return m;
    const p = protocol ?? QM9_PROTOCOL;
    const bonds = inferBonds(m, p);
    const s = stability(m, bonds);
    const own = m.modelBonds && stability(m, m.modelBonds);
    return {
      ...m,
      bonds,
      stability: s,
      protocol: p.name,
      ...(own ? { modelStability: own } : {}),
      properties: {
        ...(m.properties ?? {}),
        atom_stability: `${s.stableAtoms}/${s.atoms}`,
        molecule_stable: s.moleculeStable ? 1 : 0,
        // a bond-aware model's own bonds (the SDF bond block), scored by the same valence table
        ...(own ? { model_atom_stability: `${own.stableAtoms}/${own.atoms}`, model_molecule_stable: own.moleculeStable ? 1 : 0 } : {}),
      },
    };
  });
}

/** The text of molecules in the format a path's extension asks for (SDF gets bonds and stability). */
function formatFor(path: string, mols: Molecule[]): string {
  const lower = path.toLowerCase();
  if (lower.endsWith('.sdf') || lower.endsWith('.sd')) return formatSdf(withBondsAndStability(mols));
  if (lower.endsWith('.xyz')) return formatXyz(mols);
  throw new InputError('unknown output type (use .sdf or .xyz)', path);
}

/**
 * Molecules written as they come (a large run need not hold them all), into a temporary file
 * beside `path` that `commit` renames into place: a reader never sees half a file, and `abort`
 * (or a crash) leaves no partial output under the real name.
 */
export class MoleculeStreamWriter {
  private readonly file: AtomicFileWriter;
  /** molecules written so far */
  written = 0;

  /** @throws InputError for an unknown extension or an unwritable folder */
  constructor(readonly path: string) {
    formatFor(path, []);
    this.file = new AtomicFileWriter(path);
  }

  /** Append molecules (the same bytes as one write of all of them). */
  append(mols: Molecule[]): void {
    if (mols.length === 0) return;
    this.file.write(formatFor(this.path, mols));
    this.written += mols.length;
  }

  /** Flush and rename into place. */
  commit(): void {
    this.file.commit();
  }

  /** Drop the temporary file. */
  abort(): void {
    this.file.abort();
  }
}

/**
 * Write molecules to `.sdf` (with bonds and data fields) or `.xyz` (multi-frame), atomically.
 * @throws InputError for another extension or an unwritable path
 */
export function writeMolecules(path: string, mols: Molecule[]): void {
  writeFileAtomic(path, formatFor(path, mols));
}
