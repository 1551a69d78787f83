/**
 * Human-readable report of an evaluation, with EDM's published figures beside ours.
 */
import type { EvaluationReport, MoleculeOutcome } from '../metrics/evaluate.js';

const pct = (v: number | null | undefined): string => (v === null || v === undefined || Number.isNaN(v) ? '   n/a' : `${(100 * v).toFixed(1).padStart(5)}%`);

/** Published QM9 reference rows (Hoogeboom et al. 2022, table 2; docs/architecture.md). */
export const QM9_ANCHORS = [
  { name: 'QM9 data', atom: 0.99, mol: 0.952, valid: 0.977, validUnique: 0.977 },
  { name: 'EDM (paper)', atom: 0.987, mol: 0.82, valid: 0.919, validUnique: 0.907 },
];

/**
 * Format an evaluation as a table.
 * @param title first line, e.g. the file or checkpoint
 * @param withAnchors add EDM's published QM9 rows for comparison
 */
export function formatReport(r: EvaluationReport, title: string, withAnchors = true): string {
  const lines: string[] = [];
  lines.push(title);
  lines.push(`${r.molecules} molecules, ${r.atoms} atoms, scored in ${r.seconds.toFixed(1)} s`);
  lines.push('');
  lines.push('                      atom stab.  mol. stab.  validity  uniqueness  valid*unique  novelty');
  // undefined ratios (no valid molecule) print n/a
  const vu = r.uniqueness === null ? null : r.validity * r.uniqueness;
  lines.push(`  this set            ${pct(r.atomStability)}      ${pct(r.moleculeStability)}     ${pct(r.validity)}    ${pct(r.uniqueness)}      ${pct(vu)}     ${pct(r.novelty)}`);
  const o = r.ownBonds;
  // a bond-aware model's own bonds: the same molecules, the bonds it generated instead of EDM's distance rule
  if (o) lines.push(`  own bonds           ${pct(o.atomStability)}      ${pct(o.moleculeStability)}     ${pct(o.validity)}         -              -          -`);
  if (withAnchors) {
    for (const a of QM9_ANCHORS) {
      lines.push(`  ${a.name.padEnd(18)}  ${pct(a.atom)}      ${pct(a.mol)}     ${pct(a.valid)}         -         ${pct(a.validUnique)}        -`);
    }
  }
  lines.push('');
  lines.push(`  connected validity ${pct(r.connectedValidity).trim()} (valid and one fragment), mean fragments ${r.meanFragments.toFixed(2)}:`);
  lines.push(`    EDM's validity keeps the largest fragment, so lone atoms and scattered fragments count as valid`);
  if (o) lines.push(`  own bonds: ${o.molecules} molecules carry the bonds their model generated; "this set" scores EDM's bonds inferred from distances; connected validity on own bonds ${pct(o.connectedValidity).trim()}`);
  lines.push(`  counts: ${r.counts.stableAtoms}/${r.atoms} stable atoms, ${r.counts.stableMolecules}/${r.molecules} stable molecules, ${r.counts.valid} valid, ${r.counts.connectedValid} connected and valid, ${r.counts.unique} unique${r.counts.novel !== null ? `, ${r.counts.novel} novel` : ''}`);
  const unstable = r.molecules - r.counts.stableMolecules;
  // composition vs geometry: no bonds, own or inferred, can make an odd valence sum stable
  if (unstable > 0) lines.push(`  composition: ${r.counts.oddValence} of ${unstable} unstable molecules have an odd valence sum, which no bonds can make stable (a hydrogen too few or too many)`);
  if (r.counts.collapsed > 0) lines.push(`  collapsed: ${r.counts.collapsed} molecules have two atoms closer than 0.1 Å (scored as EDM does)`);
  if (r.distributions) {
    const d = r.distributions;
    lines.push(`  vs training data: atom-count TV ${d.nAtomsTV.toFixed(3)}, atom-type TV ${d.atomTypesTV.toFixed(3)}`);
    const pairs = Object.entries(d.bondLengthW1).sort((a, b) => a[0].localeCompare(b[0]));
    if (pairs.length) lines.push(`  bond-length W1 (Å): ${pairs.map(([k, v]) => `${k} ${v.toFixed(3)}`).join(', ')}`);
  }
  const reasons = Object.entries(r.invalidReasons);
  if (reasons.length) lines.push(`  invalid: ${reasons.map(([k, v]) => `${v} x ${k}`).join('; ')}`);
  return lines.join('\n') + '\n';
}

/**
 * The JSON form of a report around its per-molecule outcomes: `head` holds every metric (the
 * bulky histograms of `stats` left out) and opens the `outcomes` array, `tail` closes it, and
 * `outcomeLine` gives each outcome its line, joined by ",\n". Split so that a large run can
 * stream its outcomes between the two (see `OutcomeSpool`).
 * @param extra fields put first (e.g. checkpoint, seed)
 */
export function reportJsonParts(r: EvaluationReport, extra: Record<string, unknown> = {}): { head: string; tail: string } {
  const { stats: _s, outcomes: _o, ...rest } = r;
  void _s;
  void _o;
  const metrics = JSON.stringify({ ...extra, ...rest, validUnique: r.uniqueness === null ? null : r.validity * r.uniqueness }, null, 1);
  // the object's closing "\n}" becomes the start of the outcomes array
  return { head: `${metrics.slice(0, -2)},\n "outcomes": [\n`, tail: '\n ]\n}\n' };
}

/** One outcome's line in the JSON report. */
export const outcomeLine = (o: MoleculeOutcome): string => `  ${JSON.stringify(o)}`;

/** The JSON form of a report, with the outcomes it holds (see `reportJsonParts`). */
export function reportJson(r: EvaluationReport, extra: Record<string, unknown> = {}): string {
  const { head, tail } = reportJsonParts(r, extra);
  return head + r.outcomes.map(outcomeLine).join(',\n') + tail;
}
