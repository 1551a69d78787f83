/**
 * Pocket run reports: a summary table (generated ligands against the reference ligand), a
 * per-ligand table, JSON, and a complex PDB (pocket + ligands) for PyMOL/ChimeraX.
 */
import type { Molecule } from '../data/molecule.js';
import { CLASH_DISTANCE } from './energy.js';
import { type ProteinAtom, formatPdbAtoms } from './pdb.js';
import type { LigandRow, PocketReport } from './run.js';

const mean = (xs: number[]): number | undefined => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : undefined);
const fmt = (v: number | undefined, digits = 2): string => (v === undefined || !Number.isFinite(v) ? 'n/a' : v.toFixed(digits));
const pct = (v: number | undefined): string => (v === undefined ? 'n/a' : `${(100 * v).toFixed(1)}%`);

/** Totals over generated ligands. Fractions in [0, 1]; Vina means over ligands that have a score. */
export interface PocketTotals {
  ligands: number;
  validity: number;
  noClash: number;
  /** ligands with >= 90% of their atoms in the pocket region */
  mostlyInside: number;
  meanInside: number;
  meanMinDistance?: number;
  meanQed?: number;
  meanVinaScore?: number;
  meanVinaLocalOpt?: number;
  meanVinaAfterMmff?: number;
  /** mean MMFF94 energy change of the in-pocket relaxation, kcal/mol */
  meanMmffEnergyChange?: number;
  /** mean heavy-atom RMSD of that relaxation, Å */
  meanMmffRmsd?: number;
}

/** Totals of a run's generated ligands. */
export function pocketTotals(rows: LigandRow[]): PocketTotals {
  const n = rows.length;
  const defined = (f: (r: LigandRow) => number | undefined): number[] => rows.map(f).filter((v): v is number => v !== undefined && Number.isFinite(v));
  return {
    ligands: n,
    validity: rows.filter((r) => r.valid).length / n,
    noClash: rows.filter((r) => r.clashes === 0).length / n,
    mostlyInside: rows.filter((r) => r.inside >= 0.9).length / n,
    meanInside: mean(rows.map((r) => r.inside)) ?? 0,
    meanMinDistance: mean(defined((r) => r.minDistance)),
    meanQed: mean(defined((r) => r.qed)),
    meanVinaScore: mean(defined((r) => r.vinaScore)),
    meanVinaLocalOpt: mean(defined((r) => r.vinaLocalOpt)),
    meanVinaAfterMmff: mean(defined((r) => r.vinaAfterMmff)),
    meanMmffEnergyChange: mean(defined((r) => r.mmffEnergyChange)),
    meanMmffRmsd: mean(defined((r) => r.mmffRmsd)),
  };
}

/** A table as plain data: what the terminal prints as Markdown and the HTML page as a table. */
export interface TextTable {
  caption: string;
  head: string[];
  rows: string[][];
}

/** The run's context lines and its summary table (generated ligands against the reference). */
export function pocketSummary(r: PocketReport, title: string): { intro: string[]; table: TextTable; note?: string } {
  const t = pocketTotals(r.ligands);
  const ref = r.reference;
  const intro = [
    title,
    `pocket: ${r.site.description}: ${r.site.pocketAtoms} atoms (${r.site.pocketHeavyAtoms} heavy); centre (${r.site.centre.map((v) => v.toFixed(2)).join(', ')}), region radius ${r.site.regionRadius.toFixed(2)} Å`,
    `ligand sizes: ${r.sizes}; guidance ${r.guidance}; ${r.steps} steps; ${r.seconds.toFixed(1)} s`,
  ];
  if (r.docking) intro.push(`docking: ${r.ligands.length} ligands in ${r.docking.seconds.toFixed(1)} s, ${r.docking.lanes} at a time (Vina, MMFF94 in the pocket)`);
  const rows = [
    ['validity (RDKit)', pct(t.validity), ref ? (ref.valid ? 'valid' : 'invalid') : 'n/a'],
    [`no heavy-atom clash (< ${CLASH_DISTANCE} Å)`, pct(t.noClash), ref ? `${ref.clashes} clashes` : 'n/a'],
    ['>= 90% of atoms in pocket region', pct(t.mostlyInside), ref ? pct(ref.inside) : 'n/a'],
    ['mean fraction of atoms in region', pct(t.meanInside), ref ? pct(ref.inside) : 'n/a'],
    ['mean min distance to protein, Å', fmt(t.meanMinDistance), fmt(ref?.minDistance)],
    ['mean QED (valid)', fmt(t.meanQed, 3), fmt(ref?.qed, 3)],
    ['mean Vina score, kcal/mol', fmt(t.meanVinaScore), fmt(ref?.vinaScore)],
    ['mean Vina after local opt.', fmt(t.meanVinaLocalOpt), fmt(ref?.vinaLocalOpt)],
    ['mean Vina after MMFF94 in pocket', fmt(t.meanVinaAfterMmff), fmt(ref?.vinaAfterMmff)],
    ['mean MMFF94 energy change, kcal/mol', fmt(t.meanMmffEnergyChange, 1), fmt(ref?.mmffEnergyChange, 1)],
    ['mean MMFF94 heavy-atom RMSD, Å', fmt(t.meanMmffRmsd), fmt(ref?.mmffRmsd)],
    ['atom / molecule stability (EDM)', `${pct(r.evaluation.atomStability)} / ${pct(r.evaluation.moleculeStability)}`, ''],
  ];
  return { intro, table: { caption: 'Generated ligands against the reference', head: ['measure', `generated (${t.ligands})`, 'reference'], rows }, note: r.missing };
}

/** The summary printed by `edm pocket` (Markdown table). */
export function formatPocketReport(r: PocketReport, title: string): string {
  const { intro, table, note } = pocketSummary(r, title);
  const md = (cells: string[]): string => `| ${cells.join(' | ')} |`;
  const lines = [...intro, '', md(table.head), md(table.head.map(() => '---')), ...table.rows.map(md)];
  if (note) lines.push('', `note: ${note}`);
  return lines.join('\n') + '\n';
}

/** The per-ligand table: one row per ligand, in generation order. */
export function ligandTable(rows: LigandRow[]): TextTable {
  const head = ['ligand', 'atoms', 'heavy', 'valid', 'min_dist_A', 'clashes', 'inside', 'qed', 'vina', 'vina_local', 'vina_mmff', 'mmff_dE', 'mmff_rmsd_A', 'smiles'];
  const body = rows.map((r) => [r.name, String(r.atoms), String(r.heavyAtoms), r.valid ? '1' : '0', fmt(r.minDistance), String(r.clashes), fmt(r.inside, 3), fmt(r.qed, 3), fmt(r.vinaScore), fmt(r.vinaLocalOpt), fmt(r.vinaAfterMmff), fmt(r.mmffEnergyChange, 1), fmt(r.mmffRmsd), r.smiles ?? '']);
  return { caption: 'Every ligand', head, rows: body };
}

/** Per-ligand table, tab-separated, one header line. */
export function formatLigandTable(rows: LigandRow[]): string {
  const t = ligandTable(rows);
  return [t.head, ...t.rows].map((r) => r.join('\t')).join('\n') + '\n';
}

/** One line of a ligand's scores for its card: fit, QED and Vina. */
export function ligandNote(r: LigandRow): string {
  const parts = [`min distance ${fmt(r.minDistance)} Å`, `${r.clashes} clash${r.clashes === 1 ? '' : 'es'}`, `${pct(r.inside)} in region`];
  if (r.qed !== undefined) parts.push(`QED ${fmt(r.qed, 3)}`);
  if (r.vinaScore !== undefined) parts.push(`Vina ${fmt(r.vinaScore)} (local ${fmt(r.vinaLocalOpt)}) kcal/mol`);
  return parts.join(' · ');
}

/**
 * The complex for PyMOL or ChimeraX: one MODEL per ligand, each the pocket atoms then the ligand
 * as HETATM residue `LIG` of chain `L`, with CONECT records for the ligand's bonds (orders as
 * repeated CONECT entries, as PyMOL reads them).
 */
export function complexPdb(pocket: ProteinAtom[], ligands: Molecule[]): string {
  const models = ligands.map((m, k) => {
    const count: Record<string, number> = {};
    const atoms: ProteinAtom[] = m.elements.map((e, i) => {
      count[e] = (count[e] ?? 0) + 1;
      return { name: `${e.toUpperCase()}${count[e]}`.slice(0, 4), resName: 'LIG', chain: 'L', resSeq: k + 1, iCode: '', element: e, x: m.positions[i * 3], y: m.positions[i * 3 + 1], z: m.positions[i * 3 + 2], hetero: true, line: 0 };
    });
    const first = pocket.length + 1;
    const conect = (m.bonds ?? []).flatMap((b) => {
      const line = `CONECT${String(first + b.i).padStart(5)}${String(first + b.j).padStart(5).repeat(Math.min(b.order, 3))}`;
      const back = `CONECT${String(first + b.j).padStart(5)}${String(first + b.i).padStart(5).repeat(Math.min(b.order, 3))}`;
      return [line, back];
    });
    return `MODEL     ${String(k + 1).padStart(4)}\n${formatPdbAtoms(pocket)}TER\n${formatPdbAtoms(atoms, first)}${conect.map((l) => `${l}\n`).join('')}ENDMDL\n`;
  });
  return `REMARK   1 POCKET AND GENERATED LIGANDS (EDM-TS), ONE MODEL PER LIGAND\n${models.join('')}END\n`;
}
