/**
 * EDM's evaluation protocol on any set of molecules: atom and molecule stability, validity,
 * uniqueness and novelty (Hoogeboom et al. 2022, section 5.1; docs/architecture.md), exactly as
 * EDM's analysis code scores them; beside them, connected validity and the number of fragments
 * (EDM's validity keeps the largest fragment, so lone atoms and scattered fragments pass; later
 * work such as MiDi and EQGAT-diff reports connectivity too), collapsed atoms, and
 * distributions compared with the training data.
 */
import type { Molecule } from '../data/molecule.js';
import { type BondProtocol, QM9_PROTOCOL, type Stability, distance, oddValenceSum } from '../decode/bonds.js';
import { distanceBonds, distanceStability, ownBondStability } from '../decode/write.js';
import { type DistributionComparison, type DistributionStats, addToStats, compareStats, emptyStats } from './distributions.js';
import { loadRDKit } from './rdkit.js';
import { checkValidity } from './validity.js';

/**
 * Atoms closer than this have collapsed onto one place. EDM's protocol scores such molecules like
 * any other (bonds from distances, RDKit), and so do we; they are counted on their own.
 */
export const MIN_ATOM_DISTANCE_ANGSTROM = 0.1;

/** Per-molecule outcome. */
export interface MoleculeOutcome {
  index: number;
  name?: string;
  atoms: number;
  stableAtoms: number;
  stable: boolean;
  valid: boolean;
  smiles?: string;
  /** connected parts of the inferred bond graph (1: one molecule) */
  fragments: number;
  /** two of its atoms are closer than MIN_ATOM_DISTANCE_ANGSTROM */
  collapsed: boolean;
  /** why the molecule is invalid */
  reason?: string;
}

/** The metrics of a set of molecules. Fractions in [0, 1]. */
export interface EvaluationReport {
  molecules: number;
  atoms: number;
  atomStability: number;
  moleculeStability: number;
  validity: number;
  /** distinct valid SMILES / valid (null when no molecule is valid) */
  uniqueness: number | null;
  /** unique SMILES absent from the training SMILES / unique (null without training data or unique molecules) */
  novelty: number | null;
  /** valid and a single fragment / molecules */
  connectedValidity: number;
  /** mean number of fragments of the inferred bond graph, over all molecules */
  meanFragments: number;
  counts: {
    stableAtoms: number;
    stableMolecules: number;
    valid: number;
    unique: number;
    novel: number | null;
    connectedValid: number;
    /** molecules with collapsed atoms (two atoms within MIN_ATOM_DISTANCE_ANGSTROM) */
    collapsed: number;
    /**
     * unstable molecules whose elements no bond graph can make stable (`oddValenceSum`): errors
     * of composition, on any bonds (own bonds included), not of geometry
     */
    oddValence: number;
  };
  /** invalid molecules by the reason RDKit gave */
  invalidReasons: Record<string, number>;
  /**
   * Molecules by their share of stable atoms: entry k counts shares in [k/20, (k+1)/20) for
   * k < 20, and entry 20 the stable molecules (share 1).
   */
  stableShareHistogram: number[];
  distributions?: DistributionComparison;
  stats: DistributionStats;
  /**
   * Per-molecule outcomes in molecule order: all of them, or with `keepOutcomes` the first
   * `keepOutcomes` and then further valid ones until `keepOutcomes` valid ones are kept (what
   * the SVG grid and HTML cards show), so memory does not grow with the number of molecules.
   */
  outcomes: MoleculeOutcome[];
  /** time spent scoring, s */
  seconds: number;
  /**
   * The same molecules scored on their own bonds (`Molecule.modelBonds`: a bond-aware model's)
   * instead of EDM's distance-inferred ones, when they carry them; fractions of all molecules
   * (atoms for atom stability). Uniqueness and novelty stay EDM's.
   */
  ownBonds?: OwnBondScores;
}

/** Stability and validity of molecules on their own bonds (see `EvaluationReport.ownBonds`). */
export interface OwnBondScores {
  /** molecules that carried their own bonds */
  molecules: number;
  atomStability: number;
  moleculeStability: number;
  validity: number;
  connectedValidity: number;
}

/** Options of `evaluateMolecules`. */
export interface EvaluateOptions {
  /** SMILES of the training split, from the same pipeline (see reference.ts) */
  trainSmiles?: Set<string>;
  /** the training split's distributions */
  trainStats?: DistributionStats;
  /** called after each molecule with the number scored so far and `total` */
  onProgress?: (done: number, total: number) => void;
  /** molecules expected in all, for progress (default: those given so far) */
  total?: number;
  /** keep only this many outcomes in the report (see `EvaluationReport.outcomes`; default all) */
  keepOutcomes?: number;
  /** called with each molecule's outcome as it is scored (e.g. to spool them to a file) */
  onOutcome?: (o: MoleculeOutcome) => void;
  /** EDM's analysis: QM9's (default) or GEOM-Drugs' (bond lookup by sorted types, validity on single bonds) */
  protocol?: BondProtocol;
}

/** Bins of `EvaluationReport.stableShareHistogram` below share 1. */
export const STABLE_SHARE_BINS = 20;

/** Whether two atoms of `m` are closer than MIN_ATOM_DISTANCE_ANGSTROM. */
function hasCollapsedAtoms(m: Molecule): boolean {
  const n = m.elements.length;
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) if (distance(m, i, j) < MIN_ATOM_DISTANCE_ANGSTROM) return true;
  return false;
}

/**
 * EDM's protocol, fed molecules batch by batch (so a large run need not hold them all): the
 * counts and distributions grow, and `finish` gives the report. Bonds are always inferred from
 * distances (the protocol), ignoring any bonds a file carried.
 */
export class Evaluator {
  /** milliseconds spent scoring (not waiting between batches) */
  private busy = 0;
  private readonly outcomes: MoleculeOutcome[] = [];
  private keptValid = 0;
  private readonly keep: number;
  private readonly stats = emptyStats();
  private readonly unique = new Set<string>();
  private readonly reasons = new Map<string, number>();
  private readonly stableShares = new Array<number>(STABLE_SHARE_BINS + 1).fill(0);
  private scored = 0;
  private collapsed = 0;
  private oddValence = 0;
  private atoms = 0;
  private stableAtoms = 0;
  private stableMolecules = 0;
  private valid = 0;
  private connectedValid = 0;
  private fragmentSum = 0;
  /** counts on the molecules' own bonds: molecules, atoms, stable atoms, stable, valid, connected and valid */
  private readonly own = { molecules: 0, atoms: 0, stableAtoms: 0, stable: 0, valid: 0, connectedValid: 0 };

  private constructor(
    private readonly rdkit: Awaited<ReturnType<typeof loadRDKit>>,
    private readonly opts: EvaluateOptions,
  ) {
    this.keep = opts.keepOutcomes ?? Infinity;
  }

  /** An evaluator with RDKit loaded. */
  static async create(opts: EvaluateOptions = {}): Promise<Evaluator> {
    return new Evaluator(await loadRDKit(), opts);
  }

  /** Score molecules (numbered after those already added). */
  add(mols: Molecule[]): void {
    const t0 = performance.now();
    for (const m of mols) {
      const index = this.scored++;
      this.atoms += m.elements.length;
      // generated molecules come decoded (decode/write.ts): their bonds are the ones written
      const protocol = this.opts.protocol ?? QM9_PROTOCOL;
      const bonds = distanceBonds(m, protocol);
      const s = distanceStability(m, bonds, protocol);
      this.stableAtoms += s.stableAtoms;
      if (s.moleculeStable) this.stableMolecules++;
      else if (oddValenceSum(m.elements)) this.oddValence++;
      addToStats(this.stats, m, bonds);
      // EDM's GEOM analysis builds the RDKit molecule with every bond single
      const v = checkValidity(this.rdkit, m, protocol.singleBondValidity ? bonds.map((b) => ({ ...b, order: 1 })) : bonds);
      const out: MoleculeOutcome = { index, name: m.name, atoms: m.elements.length, stableAtoms: s.stableAtoms, stable: s.moleculeStable, valid: v.valid, fragments: v.fragments, collapsed: hasCollapsedAtoms(m) };
      if (v.valid) {
        out.smiles = v.smiles;
        this.valid++;
        this.unique.add(v.smiles!);
        if (v.fragments === 1) this.connectedValid++;
      } else if (v.reason) {
        out.reason = v.reason;
        this.reasons.set(v.reason, (this.reasons.get(v.reason) ?? 0) + 1);
      }
      if (out.collapsed) this.collapsed++;
      const own = ownBondStability(m);
      if (own) this.addOwn(m, m.modelBonds!, own);
      this.fragmentSum += v.fragments;
      // integer arithmetic, so a share of exactly k/20 lands in bin k
      this.stableShares[out.atoms ? Math.floor((STABLE_SHARE_BINS * out.stableAtoms) / out.atoms) : 0]++;
      if (index < this.keep || (out.valid && this.keptValid < this.keep)) {
        this.outcomes.push(out);
        if (out.valid) this.keptValid++;
      }
      this.opts.onOutcome?.(out);
      this.opts.onProgress?.(index + 1, this.opts.total ?? index + 1);
    }
    this.busy += performance.now() - t0;
  }

  /** Count a molecule's scores on its own bonds, whose stability is `s`. */
  private addOwn(m: Molecule, bonds: NonNullable<Molecule['modelBonds']>, s: Stability): void {
    const v = checkValidity(this.rdkit, m, bonds);
    this.own.molecules++;
    this.own.atoms += s.atoms;
    this.own.stableAtoms += s.stableAtoms;
    if (s.moleculeStable) this.own.stable++;
    if (v.valid) this.own.valid++;
    if (v.valid && v.fragments === 1) this.own.connectedValid++;
  }

  /**
   * The report of everything added.
   * @param training the training data for novelty and distributions, if it was not known at
   *   creation (it is only needed here)
   */
  finish(training: Pick<EvaluateOptions, 'trainSmiles' | 'trainStats'> = {}): EvaluationReport {
    const n = this.scored;
    const trainSmiles = training.trainSmiles ?? this.opts.trainSmiles;
    const trainStats = training.trainStats ?? this.opts.trainStats;
    let novel: number | null = null;
    if (trainSmiles) {
      novel = 0;
      for (const s of this.unique) if (!trainSmiles.has(s)) novel++;
    }
    const frac = (a: number, b: number): number => (b === 0 ? 0 : a / b);
    return {
      molecules: n,
      atoms: this.atoms,
      atomStability: frac(this.stableAtoms, this.atoms),
      moleculeStability: frac(this.stableMolecules, n),
      validity: frac(this.valid, n),
      uniqueness: this.valid === 0 ? null : this.unique.size / this.valid,
      novelty: novel === null || this.unique.size === 0 ? null : novel / this.unique.size,
      connectedValidity: frac(this.connectedValid, n),
      meanFragments: frac(this.fragmentSum, n),
      counts: {
        stableAtoms: this.stableAtoms,
        stableMolecules: this.stableMolecules,
        valid: this.valid,
        unique: this.unique.size,
        novel,
        connectedValid: this.connectedValid,
        collapsed: this.collapsed,
        oddValence: this.oddValence,
      },
      invalidReasons: Object.fromEntries(this.reasons),
      stableShareHistogram: [...this.stableShares],
      distributions: trainStats ? compareStats(this.stats, trainStats) : undefined,
      stats: this.stats,
      outcomes: this.outcomes,
      seconds: this.busy / 1000,
      ...(this.own.molecules > 0
        ? {
            ownBonds: {
              molecules: this.own.molecules,
              atomStability: frac(this.own.stableAtoms, this.own.atoms),
              moleculeStability: frac(this.own.stable, this.own.molecules),
              validity: frac(this.own.valid, this.own.molecules),
              connectedValidity: frac(this.own.connectedValid, this.own.molecules),
            },
          }
        : {}),
    };
  }
}

/** Score molecules with EDM's protocol (see `Evaluator`). */
export async function evaluateMolecules(mols: Molecule[], opts: EvaluateOptions = {}): Promise<EvaluationReport> {
  const e = await Evaluator.create({ total: mols.length, ...opts });
  e.add(mols);
  return e.finish();
}
