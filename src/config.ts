/**
 * One typed, versioned configuration for a model: dynamics (network), diffusion and the dataset
 * it was trained on. Saved as `config.json` inside every checkpoint and validated on load.
 */
import { CheckpointError } from './errors.js';

/** Architecture of EDM's `egnn_dynamics` network (reference: egnn/models.py EGNN_dynamics_QM9). */
export interface DynamicsConfig {
  /** hidden width of every MLP (EDM's `nf`) */
  nf: number;
  /** number of equivariant blocks (EDM's `n_layers`) */
  nLayers: number;
  /** invariant GCL sublayers per block (EDM's `inv_sublayers`) */
  invSublayers: number;
  /** sigmoid attention gate on edge messages */
  attention: boolean;
  /** bound coordinate updates with tanh(.) * coordsRange */
  tanh: boolean;
  /** scale of the tanh coordinate update, Å in normalised units (EDM: 15) */
  coordsRange: number;
  /** added to |x_i - x_j| before dividing the coordinate difference (EDM: 1) */
  normConstant: number;
  /** sum aggregation is divided by this (EDM QM9: 1) */
  normalizationFactor: number;
  /** only `sum` is implemented: EDM's `mean` counts padded edges, which a dense model does not see */
  aggregation: 'sum';
  /**
   * per-node context channels appended to the network input after the time channel (EDM's
   * `context_node_nf`; 0 or absent: unconditional). Config version 2.
   */
  contextNodeNf?: number;
}

/** Noise schedule names: `polynomial_<power>` or `cosine` (reference: en_diffusion.py). */
export type NoiseScheduleName = `polynomial_${number}` | 'cosine';

/** Diffusion settings (reference: EnVariationalDiffusion). */
export interface DiffusionConfig {
  /** number of diffusion steps T */
  timesteps: number;
  noiseSchedule: NoiseScheduleName;
  /** precision s of the polynomial schedule (EDM: 1e-5) */
  noisePrecision: number;
  /** normalisation factors for [x, one-hot, charges] (EDM: [1, 4, 10]) */
  normalizeFactors: [number, number, number];
  /**
   * training loss: `l2` on eps (EDM default) or EDM's `vlb` weighting. Only `l2` is trained here
   * (`edm train` refuses to continue a `vlb` checkpoint); either samples and evaluates.
   */
  lossType: 'l2' | 'vlb';
  /** whether the integer charge (atomic number) is a feature */
  includeCharges: boolean;
  /** bond orders diffused with the atoms (absent: EDM's model, bonds inferred from distances) */
  bonds?: BondDiffusion;
  /**
   * EDM's decoding without a charge channel, kept for imported models: `sample_p_xh_given_z0`
   * and `sample_chain` read the types as `z[:, :, 3:-1]`, so the last atom type is never decoded
   * (argmax over the first K - 1 channels). Only with `includeCharges` false (config version 5).
   */
  decodeDropsLastType?: boolean;
}

/**
 * Bond orders as a diffused per-pair feature (issue 19; JODO, Huang et al. 2023, diffuses bond
 * types with Gaussian noise the same way): each pair of atoms carries a one-hot of
 * `classes` orders (none, single, double, triple), divided by `normalizeFactor` as EDM divides
 * the atom types' one-hot, noised by the same schedule, symmetric in i and j.
 */
export interface BondDiffusion {
  /** bond orders 0 .. classes - 1 (4: none, single, double, triple) */
  classes: number;
  /** the one-hot is divided by this before noising (EDM's atom types: 4) */
  normalizeFactor: number;
  /** weight of the bonds' loss term per channel, relative to the atoms' (1: equal) */
  lossWeight: number;
}

/** The bond-aware variant's settings: four orders, scaled like EDM's atom types, equal loss weight. */
export const BOND_DIFFUSION: BondDiffusion = { classes: 4, normalizeFactor: 4, lossWeight: 1 };

/** Bond classes K diffused by a model (0: EDM's model). */
export const bondClasses = (cfg: Pick<EdmConfig, 'diffusion'>): number => cfg.diffusion.bonds?.classes ?? 0;

/** What a model knows about its data; stored in every checkpoint so it is self-describing. */
export interface DatasetInfo {
  /** short name, e.g. `qm9` */
  name: string;
  /** element symbol of each one-hot class, e.g. ['H', 'C', 'N', 'O', 'F'] */
  atomDecoder: string[];
  /** histogram of atom counts in the training split: n_nodes -> number of molecules */
  nNodesHistogram: Record<string, number>;
  /** largest molecule the model was trained on, in atoms */
  maxNAtoms: number;
}

/** Where a checkpoint came from: command, steps, epochs, wall and CPU time. */
export interface TrainingProvenance {
  command?: string;
  steps?: number;
  epochs?: number;
  wallTimeSeconds?: number;
  /** CPU time of training, all threads (absent before training used several cores) */
  cpuSeconds?: number;
  source?: string;
  [key: string]: unknown;
}

/**
 * A model conditioned on a protein pocket (DiffSBDD's form): pocket atoms are fixed nodes after
 * the ligand's, with zero features and their identity in the per-node context
 * `[is_pocket, one-hot of pocketTypes, other element]`; the frame is centred on them.
 */
export interface PocketConditioning {
  kind: 'pocket';
  /** elements with their own context channel; the rest share the `other` channel */
  pocketTypes: string[];
  /** pocket heavy atoms nearest the site centre that enter the graph (bounds memory) */
  maxPocketNodes: number;
}

/**
 * The distribution of one property among the training molecules of each size, for EDM's
 * protocol of drawing the property c and the atom count M together (EDM's
 * `DistributionProperty`, qm9/utils.py: per atom count, a histogram of the values in equal bins
 * between their minimum and maximum; a draw picks a bin by its count, then a value uniformly in it).
 */
export interface PropertyHistogram {
  /** smallest and largest value among the molecules of this size */
  min: number;
  max: number;
  /** molecules per bin (equal bins over [min, max]) */
  counts: number[];
}

/** One property a model is conditioned on, with its normalisation. */
export interface ConditionedProperty {
  /** property name, e.g. `gap` (properties/labels.ts PROPERTY_NAMES for QM9's) */
  name: string;
  /** unit of the values the user gives and sees, e.g. `eV` */
  unit: string;
  /**
   * the context channel is (value - mean) / mad (EDM's `compute_mean_mad`: the mean and mean
   * absolute deviation over QM9's validation split)
   */
  mean: number;
  mad: number;
  /** smallest and largest value the model was trained on (asking outside it is warned of; absent for an imported model whose training values are unknown) */
  range?: [number, number];
  /** atom count -> the training values' histogram (absent: only fixed values can be asked) */
  distribution?: Record<string, PropertyHistogram>;
  /** where the labels came from (e.g. the labels file's first line) */
  source?: string;
}

/**
 * A model conditioned on molecular properties (EDM's conditional generation, Hoogeboom et al.
 * 2022 Sec. 5.3): each property's normalised value is one context channel, the same on every
 * atom of a molecule (EDM's `prepare_context`: the value times the node mask).
 */
export interface PropertyConditioning {
  kind: 'properties';
  /** one context channel per property, in this order */
  properties: ConditionedProperty[];
}

/**
 * An EGNN property regressor (EDM's check of conditional samples, Hoogeboom et al. 2022 Sec. 5.3;
 * reference: qm9/property_prediction): the noise predictor's network on clean positions and
 * features (t = 0), each atom's first feature output fitted to the molecule's normalised value,
 * the prediction their mean over the atoms. It is trained on the half of QM9's train split the
 * generator does not see.
 */
export interface PropertyRegressor {
  kind: 'property-regressor';
  /** the property, its unit and normalisation (as a conditioned property's) */
  property: Pick<ConditionedProperty, 'name' | 'unit' | 'mean' | 'mad'>;
}

/** A model's conditioning: a protein pocket or molecular properties. */
export type Conditioning = PocketConditioning | PropertyConditioning;

/** The pocket conditioning of a config, or undefined. */
export const pocketConditioning = (cfg: Pick<EdmConfig, 'conditioning'>): PocketConditioning | undefined => (cfg.conditioning?.kind === 'pocket' ? cfg.conditioning : undefined);

/** The property conditioning of a config, or undefined. */
export const propertyConditioning = (cfg: Pick<EdmConfig, 'conditioning'>): PropertyConditioning | undefined => (cfg.conditioning?.kind === 'properties' ? cfg.conditioning : undefined);

/**
 * An element model p(h | x) (issue 40): the noise predictor's network, trained to give each
 * atom's clean features (one-hot type and charge, normalised as the diffusion's) from positions
 * alone, the feature input zeroed, at position noise levels t in [0, tMax]. The sampler uses it
 * to type atoms once the geometry is nearly final (UniGEM, Feng et al. 2024, types atoms from
 * the late-chain geometry with a dedicated head). Its output's position part is unused.
 */
export interface ElementModel {
  kind: 'elements';
  /** largest diffusion time (fraction of T) whose position noise the model was trained on */
  tMax: number;
}

/** The element model's settings: positions noised as in the last 10% of EDM's chain. */
export const ELEMENT_MODEL: ElementModel = { kind: 'elements', tMax: 0.1 };

/** The whole configuration of a model. */
export interface EdmConfig {
  format: 'edm-ts-checkpoint';
  /** 1: unconditional EDM; 2 adds `dynamics.contextNodeNf`; 3 adds `diffusion.bonds`; 4 adds `elementModel`; 5 adds property conditioning (older files still load) */
  version: 1 | 2 | 3 | 4 | 5;
  dynamics: DynamicsConfig;
  diffusion: DiffusionConfig;
  dataset: DatasetInfo;
  training?: TrainingProvenance;
  /** absent for EDM's unconditional models */
  conditioning?: Conditioning;
  /** present when this network is an element model p(h | x), not a noise predictor */
  elementModel?: ElementModel;
  /** present when this network is a property regressor (config version 5), not a noise predictor */
  regressor?: PropertyRegressor;
}

/** EDM's published QM9 settings (Hoogeboom et al. 2022, `outputs/edm_qm9/args.pickle`). */
export const EDM_QM9_DYNAMICS: DynamicsConfig = {
  nf: 256,
  nLayers: 9,
  invSublayers: 1,
  attention: true,
  tanh: true,
  coordsRange: 15,
  normConstant: 1,
  normalizationFactor: 1,
  aggregation: 'sum',
};

/** EDM's QM9 diffusion settings. */
export const EDM_QM9_DIFFUSION: DiffusionConfig = {
  timesteps: 1000,
  noiseSchedule: 'polynomial_2',
  noisePrecision: 1e-5,
  normalizeFactors: [1, 4, 10],
  lossType: 'l2',
  includeCharges: true,
};

/** Number of feature channels h of a model: one-hot classes + 1 charge channel if included. */
export function featureDim(cfg: Pick<EdmConfig, 'dataset' | 'diffusion'>): number {
  return cfg.dataset.atomDecoder.length + (cfg.diffusion.includeCharges ? 1 : 0);
}

/** Current config version written by new checkpoints (3: bond-aware models; 2 is written otherwise, so older readers keep loading them). */
export const CONFIG_VERSION = 3;

/** The version a config needs: 3 for bond diffusion, else 2 (1 files still load). */
export const configVersionFor = (diffusion: DiffusionConfig): 2 | 3 => (diffusion.bonds ? 3 : 2);

/**
 * Input (and output) width of the dynamics network: the features, the time channel (EDM
 * condition_time) and the context channels (EGNN_dynamics_QM9: in_node_nf + context_node_nf).
 */
export function dynamicsInputDim(cfg: Pick<EdmConfig, 'dataset' | 'diffusion' | 'dynamics'>): number {
  return featureDim(cfg) + 1 + (cfg.dynamics.contextNodeNf ?? 0);
}

/**
 * Bounds of a config read from a file (config.json or EDM's args.pickle, both untrusted): far
 * above any published model (EDM: nf 256, 9 layers, T 1000, GEOM's 181 atoms), low enough that
 * building the network or its schedule cannot exhaust memory.
 */
export const CONFIG_LIMITS = Object.freeze({ nf: 4096, nLayers: 64, invSublayers: 16, timesteps: 100_000, maxNAtoms: 10_000, atomTypes: 128 });

function check(cond: boolean, what: string, source: string): void {
  if (!cond) throw new CheckpointError(`${source}: invalid config: ${what}`);
}

const posInt = (v: unknown): boolean => Number.isInteger(v) && (v as number) > 0;
const finite = (v: unknown): boolean => typeof v === 'number' && Number.isFinite(v);

/**
 * Validate an untrusted parsed `config.json`.
 * @param raw parsed JSON
 * @param source file name used in error messages
 * @returns the same object, typed
 * @throws CheckpointError naming the first invalid field
 */
export function validateConfig(raw: unknown, source: string): EdmConfig {
  const c = raw as EdmConfig;
  check(typeof c === 'object' && c !== null, 'not an object', source);
  check(c.format === 'edm-ts-checkpoint', 'format must be "edm-ts-checkpoint"', source);
  check([1, 2, 3, 4, 5].includes(c.version), `unsupported version ${String(c.version)}`, source);
  const d = c.dynamics;
  check(typeof d === 'object' && d !== null, 'dynamics missing', source);
  const L = CONFIG_LIMITS;
  check(posInt(d.nf) && d.nf <= L.nf, `dynamics.nf must be an integer in 1..${L.nf}`, source);
  check(posInt(d.nLayers) && d.nLayers <= L.nLayers, `dynamics.nLayers must be an integer in 1..${L.nLayers}`, source);
  check(posInt(d.invSublayers) && d.invSublayers <= L.invSublayers, `dynamics.invSublayers must be an integer in 1..${L.invSublayers}`, source);
  check(typeof d.attention === 'boolean', 'dynamics.attention must be boolean', source);
  check(typeof d.tanh === 'boolean', 'dynamics.tanh must be boolean', source);
  check(finite(d.coordsRange), 'dynamics.coordsRange must be a number', source);
  check(finite(d.normConstant), 'dynamics.normConstant must be a number', source);
  check(finite(d.normalizationFactor) && d.normalizationFactor > 0, 'dynamics.normalizationFactor must be > 0', source);
  check(d.aggregation === 'sum', 'dynamics.aggregation must be "sum"', source);
  check(d.contextNodeNf === undefined || (Number.isInteger(d.contextNodeNf) && d.contextNodeNf >= 0), 'dynamics.contextNodeNf must be a non-negative integer', source);
  check(c.version >= 2 || !d.contextNodeNf, 'dynamics.contextNodeNf needs config version 2', source);
  const f = c.diffusion;
  check(typeof f === 'object' && f !== null, 'diffusion missing', source);
  check(posInt(f.timesteps) && f.timesteps <= L.timesteps, `diffusion.timesteps must be an integer in 1..${L.timesteps}`, source);
  check(
    f.noiseSchedule === 'cosine' || /^polynomial_\d+(\.\d+)?$/.test(String(f.noiseSchedule)),
    'diffusion.noiseSchedule must be polynomial_<power> or cosine',
    source,
  );
  check(finite(f.noisePrecision) && f.noisePrecision > 0 && f.noisePrecision < 0.5, 'diffusion.noisePrecision must be in (0, 0.5)', source);
  check(
    Array.isArray(f.normalizeFactors) && f.normalizeFactors.length === 3 && f.normalizeFactors.every((v) => finite(v) && v > 0),
    'diffusion.normalizeFactors must be three positive numbers',
    source,
  );
  check(f.lossType === 'l2' || f.lossType === 'vlb', 'diffusion.lossType must be l2 or vlb', source);
  check(typeof f.includeCharges === 'boolean', 'diffusion.includeCharges must be boolean', source);
  check(f.decodeDropsLastType === undefined || (f.decodeDropsLastType === true && !f.includeCharges && c.version === 5), 'diffusion.decodeDropsLastType (EDM\'s decoding without charges) needs includeCharges false and config version 5', source);
  if (f.bonds !== undefined) {
    const b = f.bonds;
    check(c.version === 3, 'diffusion.bonds needs config version 3', source);
    check(typeof b === 'object' && b !== null && Number.isInteger(b.classes) && b.classes >= 2 && b.classes <= 4, 'diffusion.bonds.classes must be an integer in 2..4', source);
    check(finite(b.normalizeFactor) && b.normalizeFactor > 0, 'diffusion.bonds.normalizeFactor must be > 0', source);
    check(finite(b.lossWeight) && b.lossWeight >= 0, 'diffusion.bonds.lossWeight must be >= 0', source);
  }
  const s = c.dataset;
  check(typeof s === 'object' && s !== null, 'dataset missing', source);
  check(Array.isArray(s.atomDecoder) && s.atomDecoder.length > 0 && s.atomDecoder.every((e) => typeof e === 'string'), 'dataset.atomDecoder must be a list of element symbols', source);
  check(typeof s.nNodesHistogram === 'object' && s.nNodesHistogram !== null, 'dataset.nNodesHistogram missing', source);
  for (const [k, v] of Object.entries(s.nNodesHistogram)) {
    check(posInt(Number(k)) && finite(v) && v >= 0, `dataset.nNodesHistogram entry ${k}: ${String(v)}`, source);
  }
  check(posInt(s.maxNAtoms) && s.maxNAtoms <= L.maxNAtoms, `dataset.maxNAtoms must be an integer in 1..${L.maxNAtoms}`, source);
  check(s.atomDecoder.length <= L.atomTypes, `dataset.atomDecoder holds at most ${L.atomTypes} elements`, source);
  const k = c.conditioning;
  if (k?.kind === 'properties') checkProperties(k, d, c.version, source);
  else if (k !== undefined) {
    check(k.kind === 'pocket' && Array.isArray(k.pocketTypes) && posInt(k.maxPocketNodes), 'conditioning must be { kind: "pocket", pocketTypes, maxPocketNodes }', source);
    check(d.contextNodeNf === k.pocketTypes.length + 2, 'dynamics.contextNodeNf must be pocketTypes + 2 for a pocket model', source);
    check(f.bonds === undefined, 'diffusion.bonds is not supported with pocket conditioning', source);
  }
  const r = c.regressor;
  if (r !== undefined) {
    check(c.version === 5, 'regressor needs config version 5', source);
    const p = r?.property;
    check(typeof r === 'object' && r !== null && r.kind === 'property-regressor' && typeof p === 'object' && p !== null && typeof p.name === 'string' && typeof p.unit === 'string' && finite(p.mean) && finite(p.mad) && p.mad > 0, 'regressor must be { kind: "property-regressor", property: { name, unit, mean, mad > 0 } }', source);
    check(f.bonds === undefined && k === undefined && c.elementModel === undefined, 'a property regressor has no bonds, no conditioning and is not an element model', source);
  }
  const e = c.elementModel;
  if (e !== undefined) {
    check(c.version === 4, 'elementModel needs config version 4', source);
    check(typeof e === 'object' && e !== null && e.kind === 'elements' && finite(e.tMax) && e.tMax > 0 && e.tMax <= 1, 'elementModel must be { kind: "elements", tMax in (0, 1] }', source);
    check(f.bonds === undefined && k === undefined, 'an element model has no bonds and no conditioning', source);
  }
  return c;
}

/** Check a property conditioning read from a file (see `validateConfig`). */
function checkProperties(k: PropertyConditioning, d: DynamicsConfig, version: number, source: string): void {
  check(version === 5, 'property conditioning needs config version 5', source);
  check(Array.isArray(k.properties) && k.properties.length > 0 && k.properties.length <= 16, 'conditioning.properties must list 1..16 properties', source);
  check(d.contextNodeNf === k.properties.length, 'dynamics.contextNodeNf must be the number of conditioned properties', source);
  for (const p of k.properties) {
    const at = `conditioning property ${String(p?.name)}`;
    check(typeof p === 'object' && p !== null && typeof p.name === 'string' && /^\w+$/.test(p.name) && typeof p.unit === 'string', `${at}: needs a name and a unit`, source);
    check(finite(p.mean) && finite(p.mad) && p.mad > 0, `${at}: mean and mad (> 0) must be numbers`, source);
    check(p.range === undefined || (Array.isArray(p.range) && p.range.length === 2 && finite(p.range[0]) && finite(p.range[1]) && p.range[0] <= p.range[1]), `${at}: range must be [min, max]`, source);
    for (const [n, h] of Object.entries(p.distribution ?? {})) {
      check(posInt(Number(n)) && typeof h === 'object' && h !== null && finite(h.min) && finite(h.max) && h.min <= h.max, `${at}: distribution entry ${n} needs min <= max`, source);
      check(Array.isArray(h.counts) && h.counts.length > 0 && h.counts.length <= 10_000 && h.counts.every((v) => finite(v) && v >= 0) && h.counts.some((v) => v > 0), `${at}: distribution entry ${n} needs 1..10,000 non-negative counts, not all zero`, source);
    }
  }
}
