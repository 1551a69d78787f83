/**
 * The data of a property-conditioned training run: labels attached to the molecules, EDM's half
 * of QM9's train split, and the conditioning (normalisation and per-size distribution) stored in
 * the checkpoint.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { datasetInfoFrom } from '../data/dataset.js';
import type { Molecule } from '../data/molecule.js';
import { readIds } from '../data/qm9.js';
import { InputError, OptionError } from '../errors.js';
import { PACKAGE_ROOT } from '../paths.js';
import type { TrainingData } from './data.js';
import { propertyValue } from '../data/properties.js';
import { buildPropertyConditioning, meanMad } from '../properties/conditioning.js';
import { PROPERTY_UNITS, type PropertyLabels, type PropertyName, gdbId, isPropertyName, readLabels } from '../properties/labels.js';
import type { PropertyRegressor } from '../config.js';

/** The project's GFN2-xTB labels of QM9 (scripts/label-xtb.ts; provenance in the file's header). */
export const DEFAULT_LABELS = resolve(PACKAGE_ROOT, 'data', 'qm9-xtb.csv.gz');

/** EDM's half of QM9's train split that trains the conditional generator (`qm9_second_half`). */
export const GENERATOR_HALF = 'train_second_half_ids.txt';

/**
 * Parse `--condition` names for training.
 * @throws OptionError for an empty list, a repeated or unknown name
 */
export function conditionNames(list: string): string[] {
  const names = list.split(',').map((s) => s.trim()).filter(Boolean);
  if (names.length === 0) throw new OptionError('--condition: give one or more property names, e.g. --condition gap');
  const bad = names.find((n) => !isPropertyName(n));
  if (bad !== undefined) throw new OptionError(`--condition ${bad}: unknown property (known: alpha, gap, homo, lumo, mu)`);
  if (new Set(names).size !== names.length) throw new OptionError(`--condition ${list}: a property is named twice`);
  return names;
}

/** Give molecules named `gdb <id>` their labelled values (kept numbers in `properties`). */
function attach(mols: Molecule[], labels: PropertyLabels, names: string[]): void {
  const cols = names.map((n) => labels.columns.indexOf(n as never));
  for (const m of mols) {
    const row = labels.values.get(gdbId(m.name) ?? -1);
    if (!row) continue;
    m.properties = { ...m.properties, ...Object.fromEntries(names.map((n, k) => [n, row[cols[k]]])) };
  }
}

/** Options of `conditionData`. */
export interface ConditionDataOptions {
  /** labels file (default DEFAULT_LABELS for QM9; own files may carry the values as SDF fields instead) */
  labels?: string;
  /** QM9's folder: its `splits/train_second_half_ids.txt` restricts training to EDM's generator half */
  qm9Dir?: string;
}

/** A run's molecules with property values attached, restricted to one half of QM9's train split. */
interface Labelled {
  train: Molecule[];
  valid?: Molecule[];
  unlabelled: number;
  notes: string[];
  /** where the values came from, in words */
  source: string;
}

/**
 * Attach the values of `names` (labels file by `gdb <id>`, or the molecules' own numeric fields),
 * keep only `halfFile`'s molecules of QM9's train split, and leave out (count) molecules without
 * every value.
 * @throws InputError for an unreadable labels file or one without a needed column, or when no
 *   training molecule has every value; OptionError for a pocket run
 */
function labelledData(data: TrainingData, names: string[], o: ConditionDataOptions, halfFile: string, what: string): Labelled {
  if (data.conditioning) throw new OptionError('molecular properties are for molecules, not pocket/ligand pairs');
  const notes: string[] = [];
  let train = data.train as Molecule[];
  let valid = data.valid as Molecule[] | undefined;
  const labelsPath = o.labels ?? (data.info.name === 'qm9' ? DEFAULT_LABELS : undefined);
  let source = 'the molecules\' own fields';
  if (labelsPath) {
    if (!existsSync(labelsPath)) throw new InputError(`no labels file: the QM9 property labels are made by scripts/label-xtb.ts (needs xtb), or give your own with --labels`, labelsPath);
    const labels = readLabels(labelsPath);
    const missing = names.find((n) => !labels.columns.includes(n as never));
    if (missing) throw new InputError(`the labels have no ${missing} column (they have ${labels.columns.join(', ')})`, labelsPath);
    attach(train, labels, names);
    if (valid) attach(valid, labels, names);
    source = `${labelsPath.split('/').pop()}: ${labels.provenance[0] ?? ''}`.trim();
  }
  const half = o.qm9Dir && data.info.name === 'qm9' ? join(o.qm9Dir, 'splits', halfFile) : undefined;
  if (half && existsSync(half)) {
    const ids = new Set(readIds(half));
    train = train.filter((m) => ids.has(gdbId(m.name) ?? -1));
    notes.push(`training on EDM's ${what} half of QM9's train split (${halfFile}: ${train.length} molecules here)`);
  } else if (data.info.name === 'qm9') notes.push(`no ${halfFile} in the QM9 folder: training on the whole train split (EDM trains its ${what} on one half)`);
  const labelled = (m: Molecule): boolean => names.every((n) => propertyValue(m, n) !== undefined);
  const before = train.length + (valid?.length ?? 0);
  train = train.filter(labelled);
  valid = valid?.filter(labelled);
  const unlabelled = before - train.length - (valid?.length ?? 0);
  if (train.length === 0) throw new InputError(`no training molecule has a value of ${names.join(' and ')}`, labelsPath);
  return { train, valid, unlabelled, notes, source };
}

/**
 * Turn a run's data into a property-conditioned run's: values from the labels file (by the
 * molecules' `gdb <id>` names) or the molecules' own numeric fields; for QM9, only EDM's
 * generator half of the train split; molecules without every value left out (counted); the
 * conditioning normalised over the validation molecules as EDM does (its `compute_mean_mad` on
 * QM9's validation split), or the training ones without a validation set.
 * @returns the new data and how many molecules were left out for lack of a value
 * @throws InputError for an unreadable labels file or one without a needed column, or when no
 *   training molecule has every value; OptionError for a pocket run
 */
export function conditionData(data: TrainingData, names: string[], o: ConditionDataOptions): { data: TrainingData; unlabelled: number; notes: string[] } {
  const { train, valid, unlabelled, notes, source } = labelledData(data, names, o, GENERATOR_HALF, 'generator');
  const conditioning = buildPropertyConditioning(names, PROPERTY_UNITS, train, valid && valid.length > 0 ? valid : train, source);
  return { data: { ...data, train, valid, info: datasetInfoFrom(data.info.name, train, data.info.atomDecoder), conditioning, source: `${data.source}, conditioned on ${names.join(', ')}` }, unlabelled, notes };
}

/** EDM's half of QM9's train split that trains the property classifier (`qm9_first_half`). */
export const CLASSIFIER_HALF = 'train_first_half_ids.txt';

/**
 * A property regressor's run (config.ts PropertyRegressor): for QM9, EDM's classifier half of the
 * train split (the generator never sees it), values as `conditionData` attaches them, normalised
 * over the validation molecules.
 * @returns the data, the regressor's settings and how many molecules lacked a value
 * @throws as `conditionData`, and OptionError for an unknown property
 */
export function regressorData(data: TrainingData, name: string, o: ConditionDataOptions): { data: TrainingData; regressor: PropertyRegressor; unlabelled: number; notes: string[] } {
  const [property] = conditionNames(name);
  const { train, valid, unlabelled, notes } = labelledData(data, [property], o, CLASSIFIER_HALF, 'property classifier');
  const { mean, mad } = meanMad((valid && valid.length > 0 ? valid : train).map((m) => propertyValue(m, property)!));
  const regressor: PropertyRegressor = { kind: 'property-regressor', property: { name: property, unit: PROPERTY_UNITS[property as PropertyName], mean, mad } };
  return { data: { ...data, train, valid, info: datasetInfoFrom(data.info.name, train, data.info.atomDecoder), source: `${data.source}, ${property} regressor` }, regressor, unlabelled, notes };
}
