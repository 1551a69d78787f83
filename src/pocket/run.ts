/**
 * A whole pocket run, as `edm pocket` does it: read the structure and the site, choose ligand
 * sizes, generate, score (validity, fit, QED, Vina when installed) and report, with the
 * reference ligand scored the same way for comparison.
 */
import { availableParallelism } from 'node:os';
import type { Molecule } from '../data/molecule.js';
import { readMolecules } from '../data/read.js';
import { toMolBlock } from '../data/sdf.js';
import { withBondsAndStability } from '../decode/write.js';
import type { EdmModel } from '../diffusion/model.js';
import type { CorrectorOptions } from '../diffusion/sampler.js';
import type { ElementSampling } from '../generate/types.js';
import { InterruptedError, OptionError } from '../errors.js';
import { type EvaluationReport, evaluateMolecules } from '../metrics/evaluate.js';
import { qed } from '../metrics/qed.js';
import { type RDKitModule, loadRDKit, sanitizedSmiles } from '../metrics/rdkit.js';
import { graphMolBlock, largestFragment } from '../metrics/validity.js';
import { implicitHSmiles } from '../metrics/fields.js';
import { type PocketFit, pocketFit } from './energy.js';
import { sampleInPocket } from './generate.js';
import { sampleConditional } from './conditional.js';
import { type ProteinAtom, readPdb } from './pdb.js';
import { type PocketSite, pocketAsIs, pocketFromCentre, pocketFromLigand } from './site.js';
import { ligandSizes, referenceSize } from './sizes.js';
import { type DockingScores, VinaScorer, dockingTools } from './vina.js';

/** Options of `pocketRun`. */
export interface PocketRunOptions {
  /** protein structure (PDB) */
  pdb: string;
  /** reference ligand (SDF/XYZ) defining the pocket */
  ligand?: string;
  /** pocket centre, Å (instead of a reference ligand) */
  center?: [number, number, number];
  /** residue selection radius, Å (default 10) */
  radius?: number;
  n: number;
  seed: number | string;
  steps?: number;
  /** guidance strength, 0 = off (default 1) */
  guidance?: number;
  /** fixed ligand size */
  nAtoms?: number;
  /** +- around the reference ligand's size (default 2) */
  sizeMargin?: number;
  /** run Vina/obabel when installed (default true) */
  dock?: boolean;
  /** keep this fragment (SDF/XYZ, protein frame) and grow the rest (RePaint inpainting) */
  fixFragment?: string;
  /** RePaint resampling jumps with a fragment (default 5) */
  jumps?: number;
  /** scale of the reverse steps' noise (default 1, EDM's; see sampler.ts) */
  temperature?: number;
  /** Langevin corrector steps in the last part of the chain (default `DEFAULT_CORRECTOR`; `false`: EDM's sampler; see sampler.ts) */
  corrector?: CorrectorOptions | false;
  /** atoms typed by the checkpoint's element model from this diffusion time on (generate/types.ts ElementSampling; default: not used) */
  elements?: ElementSampling;
  onProgress?: (ligandsDone: number, step: number, steps: number) => void;
  /** after each ligand is scored (`docking`: Vina and MMFF94 ran, the slow part) */
  onScored?: (done: number, total: number, docking: boolean) => void;
  /** stops the run: docking tools are killed, the working folder removed; rejects with InterruptedError */
  signal?: AbortSignal;
}

/**
 * `fn` over `items`, at most `limit` at a time, results in item order; `onDone` after each.
 * @throws InterruptedError once `signal` is aborted (no new item starts; running ones are stopped by it)
 */
async function inParallel<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>, onDone: (done: number) => void, signal?: AbortSignal): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  let done = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length) {
      if (signal?.aborted) throw new InterruptedError('docking stopped');
      const i = next++;
      out[i] = await fn(items[i]);
      onDone(++done);
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  } catch (e) {
    throw signal?.aborted ? new InterruptedError('docking stopped') : e;
  }
  return out;
}

/** Scores of one ligand. Distances Å, Vina and MMFF94 kcal/mol. */
export interface LigandRow extends PocketFit, DockingScores {
  name: string;
  atoms: number;
  heavyAtoms: number;
  valid: boolean;
  smiles?: string;
  qed?: number;
}

/** Everything a pocket run reports. */
export interface PocketReport {
  site: { description: string; centre: number[]; regionRadius: number; pocketAtoms: number; pocketHeavyAtoms: number };
  sizes: string;
  guidance: number;
  steps: number;
  ligands: LigandRow[];
  reference?: LigandRow;
  /** EDM's metrics of the generated ligands */
  evaluation: EvaluationReport;
  /** why Vina columns are absent, if they are */
  missing?: string;
  /** seconds of the whole run */
  seconds: number;
  /** the ligands' docking and relaxation (Vina, MMFF94): wall seconds and ligands scored at once */
  docking?: { seconds: number; lanes: number };
  /** the pocket's atoms (for a complex file) */
  pocketAtoms: ProteinAtom[];
  /** the reference ligand as read */
  referenceMolecule?: Molecule;
}

/** The site an option set asks for. @throws OptionError for contradictory options */
function siteOf(opts: PocketRunOptions, reference: Molecule | undefined): PocketSite {
  const protein = readPdb(opts.pdb);
  const radius = opts.radius ?? 10;
  if (!(radius > 0)) throw new OptionError(`--radius must be > 0 Å, got ${radius}`);
  if (reference && opts.center) throw new OptionError('give either --ligand or --center, not both');
  if (reference) return pocketFromLigand(protein, reference, radius, opts.ligand!);
  if (opts.center) return pocketFromCentre(protein, opts.center, radius);
  return pocketAsIs(protein);
}

/**
 * Score one ligand that already has bonds. Fit (distances, clashes, region) is over all its
 * atoms; QED, Vina and MMFF94 are for its largest fragment, the molecule validity judges (a
 * stray H2 or CH4 beside a ligand is not what a chemist would dock).
 * @returns the row, and the fragment in its relaxed pose when MMFF94 ran
 * @throws Error when `signal` stops the docking tools
 */
async function scoreLigand(rdkit: RDKitModule, m: Molecule, site: PocketSite, vina: VinaScorer | undefined, dockInvalid = false, signal?: AbortSignal): Promise<{ row: LigandRow; relaxed?: Molecule }> {
  const whole = sanitizedSmiles(rdkit, toMolBlock(m));
  const valid = whole !== null;
  const ligand = largestFragment(m);
  // a connected ligand is its own largest fragment: its SMILES is already known
  const smiles = !valid ? undefined : ligand === m ? whole : sanitizedSmiles(rdkit, toMolBlock(ligand)) ?? undefined;
  const row: LigandRow = {
    name: m.name ?? '',
    atoms: m.elements.length,
    heavyAtoms: m.elements.filter((e) => e !== 'H').length,
    valid,
    // the form every output shows (edm sample's SDF field, the HTML cards): canonical, implicit
    // hydrogens, from the bond graph (no stereo read from the 3D pose)
    smiles: ligand.bonds && smiles ? implicitHSmiles(rdkit, sanitizedSmiles(rdkit, graphMolBlock(ligand.elements, ligand.bonds)) ?? smiles) : smiles,
    ...pocketFit(m.elements, m.positions, site),
  };
  if (smiles) row.qed = qed(rdkit, smiles) ?? undefined;
  // invalid generated ligands cannot be typed reliably; a reference ligand is docked as given
  if (!vina || !(smiles || dockInvalid)) return { row };
  const { relaxedPositions, ...scores } = await vina.score(ligand, signal);
  Object.assign(row, scores);
  if (!relaxedPositions) return { row };
  const fit = pocketFit(ligand.elements, relaxedPositions, site);
  const props = { min_distance_A: fit.minDistance.toFixed(2), clashes: fit.clashes, inside_fraction: fit.inside.toFixed(3) };
  return { row, relaxed: { ...ligand, positions: relaxedPositions, properties: props } };
}

/**
 * Generate ligands in a pocket and score them.
 * @returns the ligands (protein frame, with bonds and scores as properties), the report, and the
 *   ligands' largest fragments MMFF94-relaxed in the fixed pocket (those that were; empty
 *   without Vina/Open Babel), with pose-dependent fields recomputed
 * @throws InputError for unreadable/malformed structure or ligand files, an empty pocket or a
 *   reference ligand far from the protein; OptionError for impossible options
 */
export async function pocketRun(model: EdmModel, opts: PocketRunOptions): Promise<{ ligands: Molecule[]; report: PocketReport; relaxed: Molecule[] }> {
  const t0 = performance.now();
  const rdkit = await loadRDKit();
  const reference = opts.ligand ? readMolecules(opts.ligand)[0] : undefined;
  const site = siteOf(opts, reference);
  const withH = model.config.dataset.atomDecoder.includes('H');
  const conditional = model.config.conditioning !== undefined;
  const sizes = ligandSizes(model.config, opts.n, opts.seed, {
    nAtoms: opts.nAtoms,
    refAtoms: reference ? referenceSize(rdkit, reference, withH) : undefined,
    margin: opts.sizeMargin ?? 2,
  });
  const fragment = opts.fixFragment ? readMolecules(opts.fixFragment, model.config.dataset.atomDecoder)[0] : undefined;
  if (fragment && conditional) throw new OptionError('--fix-fragment works with unconditional checkpoints');
  if (fragment && (opts.guidance ?? 0) > 0) throw new OptionError('--fix-fragment places the ligand by its fragment: use it without --guidance');
  // a pocket model sees the pocket itself, and a fragment places the ligand: no guidance
  const guidance = conditional || fragment ? 0 : opts.guidance ?? 1;
  const steps = opts.steps ?? model.schedule.timesteps;
  const raw = conditional
    ? await sampleConditional(model, site, { seed: opts.seed, steps, sizes: sizes.sizes, onProgress: opts.onProgress, temperature: opts.temperature, corrector: opts.corrector, ...(opts.elements ? { elements: opts.elements } : {}), signal: opts.signal })
    : await sampleInPocket(model, site, { n: opts.n, seed: opts.seed, steps, guidance, sizes: sizes.sizes, onProgress: opts.onProgress, fragment, jumps: opts.jumps, temperature: opts.temperature, corrector: opts.corrector, elements: opts.elements, signal: opts.signal });
  const ligands = withBondsAndStability(raw);
  const evaluation = await evaluateMolecules(ligands);
  const tools = opts.dock === false ? undefined : dockingTools();
  const vina = tools?.vina && tools.obabel ? new VinaScorer(site, tools.python) : undefined;
  try {
    const lanes = vina ? availableParallelism() : 1;
    const tDock = performance.now();
    const scored = await inParallel(ligands, lanes, (m) => scoreLigand(rdkit, m, site, vina, false, opts.signal), (done) => opts.onScored?.(done, ligands.length, vina !== undefined), opts.signal);
    const docking = vina ? { seconds: (performance.now() - tDock) / 1000, lanes } : undefined;
    const rows = scored.map((s) => s.row);
    rows.forEach((r, i) => (ligands[i].properties = { ...ligands[i].properties, ...rowProperties(r) }));
    const relaxed = scored.flatMap((s, i) => (s.relaxed ? [{ ...s.relaxed, properties: { ...ligands[i].properties, ...s.relaxed.properties } }] : []));
    const refRow = reference ? (await scoreLigand(rdkit, { ...reference, name: 'reference' }, site, vina, true, opts.signal)).row : undefined;
    const report: PocketReport = {
      site: { description: site.description, centre: site.centre, regionRadius: site.regionRadius, pocketAtoms: site.atoms.length, pocketHeavyAtoms: site.heavy.length / 3 },
      sizes: sizes.note,
      guidance,
      steps,
      ligands: rows,
      reference: refRow,
      evaluation,
      missing: opts.dock === false ? 'Vina columns off (--no-dock)' : tools?.missing,
      seconds: (performance.now() - t0) / 1000,
      docking,
      pocketAtoms: site.atoms,
      referenceMolecule: reference,
    };
    return { ligands, report, relaxed };
  } finally {
    vina?.close();
  }
}

/** A row's scores as SDF data fields. */
function rowProperties(r: LigandRow): Record<string, string | number> {
  const p: Record<string, string | number> = { valid: r.valid ? 1 : 0, min_distance_A: r.minDistance.toFixed(2), clashes: r.clashes, inside_fraction: r.inside.toFixed(3) };
  if (r.smiles) p.smiles = r.smiles;
  if (r.qed !== undefined) p.qed = r.qed.toFixed(3);
  if (r.vinaScore !== undefined) p.vina_score = r.vinaScore.toFixed(3);
  if (r.vinaLocalOpt !== undefined) p.vina_local_opt = r.vinaLocalOpt.toFixed(3);
  if (r.vinaAfterMmff !== undefined) p.vina_after_mmff94 = r.vinaAfterMmff.toFixed(3);
  if (r.mmffEnergyChange !== undefined) p.mmff94_energy_change = r.mmffEnergyChange.toFixed(2);
  if (r.mmffRmsd !== undefined) p.mmff94_rmsd_A = r.mmffRmsd.toFixed(3);
  return p;
}
