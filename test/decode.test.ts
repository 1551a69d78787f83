/**
 * Bond orders, stability and validity on hand-built molecules (EDM's protocol).
 */
import { describe, expect, it } from 'vitest';
import type { Molecule } from '../src/data/molecule.js';
import { bondOrder, inferBonds, oddValenceSum, stability } from '../src/decode/bonds.js';
import { withBondsAndStability } from '../src/decode/write.js';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatReport, reportJson } from '../src/report/table.js';
import { Evaluator, STABLE_SHARE_BINS, evaluateMolecules, type MoleculeOutcome } from '../src/metrics/evaluate.js';
import { OutcomeSpool } from '../src/report/outcome-spool.js';

function mol(atoms: [string, number, number, number][], name = ''): Molecule {
  return { elements: atoms.map((a) => a[0]), positions: Float32Array.from(atoms.flatMap((a) => [a[1], a[2], a[3]])), name };
}

const CH = 1.09;
const tet = [
  [1, 1, 1],
  [1, -1, -1],
  [-1, 1, -1],
  [-1, -1, 1],
].map((v) => v.map((c) => (c * CH) / Math.sqrt(3)));

const methane = mol([['C', 0, 0, 0], ...tet.map((v) => ['H', v[0], v[1], v[2]] as [string, number, number, number])], 'methane');
// ethene: C=C 1.33 Å, C-H 1.09 Å at 121.5 degrees
const a = (121.5 * Math.PI) / 180;
const ethene = mol([
  ['C', -0.665, 0, 0],
  ['C', 0.665, 0, 0],
  ['H', -0.665 + CH * Math.cos(a), CH * Math.sin(a), 0],
  ['H', -0.665 + CH * Math.cos(a), -CH * Math.sin(a), 0],
  ['H', 0.665 - CH * Math.cos(a), CH * Math.sin(a), 0],
  ['H', 0.665 - CH * Math.cos(a), -CH * Math.sin(a), 0],
]);
const ethyne = mol([
  ['C', -0.6, 0, 0],
  ['C', 0.6, 0, 0],
  ['H', -0.6 - 1.06, 0, 0],
  ['H', 0.6 + 1.06, 0, 0],
]);
/** Regular hexagon of C (side = circumradius) with H 1.09 Å radially outward. */
function benzeneWithSide(side: number): Molecule {
  const atoms: [string, number, number, number][] = [];
  for (let k = 0; k < 6; k++) atoms.push(['C', side * Math.cos((k * Math.PI) / 3), side * Math.sin((k * Math.PI) / 3), 0]);
  for (let k = 0; k < 6; k++) atoms.push(['H', (side + CH) * Math.cos((k * Math.PI) / 3), (side + CH) * Math.sin((k * Math.PI) / 3), 0]);
  return mol(atoms, 'benzene');
}
const benzene = benzeneWithSide(1.397);
const methyl = mol([
  ['C', 0, 0, 0],
  ['H', CH, 0, 0],
  ['H', CH * Math.cos((2 * Math.PI) / 3), CH * Math.sin((2 * Math.PI) / 3), 0],
  ['H', CH * Math.cos((4 * Math.PI) / 3), CH * Math.sin((4 * Math.PI) / 3), 0],
]);
const water = (dx: number): [string, number, number, number][] => [
  ['O', dx, 0, 0],
  ['H', dx + 0.96, 0, 0],
  ['H', dx + 0.96 * Math.cos(1.824), 0.96 * Math.sin(1.824), 0],
];
const disconnected = mol([...(methane.elements.map((e, i) => [e, methane.positions[i * 3], methane.positions[i * 3 + 1], methane.positions[i * 3 + 2]]) as [string, number, number, number][]), ...water(10)]);
// trigonal bipyramid CH5: C with five H at 1.09 Å
const hypervalent = mol([
  ['C', 0, 0, 0],
  ['H', 0, 0, CH],
  ['H', 0, 0, -CH],
  ['H', CH, 0, 0],
  ['H', CH * Math.cos((2 * Math.PI) / 3), CH * Math.sin((2 * Math.PI) / 3), 0],
  ['H', CH * Math.cos((4 * Math.PI) / 3), CH * Math.sin((4 * Math.PI) / 3), 0],
]);

describe('bond orders from distances', () => {
  it('uses the single/double/triple thresholds with margins 10/5/3 pm', () => {
    expect(bondOrder('C', 'C', 1.63)).toBe(1); // < 154 + 10
    expect(bondOrder('C', 'C', 1.65)).toBe(0);
    expect(bondOrder('C', 'C', 1.38)).toBe(2); // < 134 + 5
    expect(bondOrder('C', 'C', 1.22)).toBe(3); // < 120 + 3
    expect(bondOrder('C', 'O', 1.24)).toBe(2);
    expect(bondOrder('C', 'H', 1.09)).toBe(1);
    expect(bondOrder('H', 'H', 1.5)).toBe(0);
    expect(bondOrder('C', 'Xe', 1.0)).toBe(0); // no typical length: no bond
  });

  it('methane, ethene, ethyne', () => {
    expect(inferBonds(methane).map((b) => b.order)).toEqual([1, 1, 1, 1]);
    const e = inferBonds(ethene);
    expect(e.find((b) => b.i === 0 && b.j === 1)?.order).toBe(2);
    expect(e.filter((b) => b.order === 1)).toHaveLength(4);
    const y = inferBonds(ethyne);
    expect(y.find((b) => b.i === 0 && b.j === 1)?.order).toBe(3);
    for (const m of [methane, ethene, ethyne]) expect(stability(m).moleculeStable).toBe(true);
  });

  it('benzene with equal 1.397 Å bonds gets single C-C bonds and unstable carbons (protocol property)', () => {
    const b = inferBonds(benzene);
    expect(b.filter((x) => m2(x, benzene) === 'C-C').map((x) => x.order)).toEqual([1, 1, 1, 1, 1, 1]);
    const s = stability(benzene);
    expect(s.stableAtoms).toBe(6); // the six H
    expect(s.moleculeStable).toBe(false);
  });
});

function m2(b: { i: number; j: number }, m: Molecule): string {
  return [m.elements[b.i], m.elements[b.j]].sort().join('-');
}

describe('stability and validity', () => {
  it('tells compositions no bonds can make stable (odd valence sum) from the rest', () => {
    expect(oddValenceSum(['C', 'C', 'H', 'H', 'H', 'H', 'H'])).toBe(true); // C2H5
    expect(oddValenceSum(['C', 'C', 'H', 'H', 'H', 'H', 'H', 'H'])).toBe(false); // C2H6
    expect(oddValenceSum(['C', 'N', 'H', 'H', 'H', 'H', 'H'])).toBe(false); // CH3NH2
    expect(oddValenceSum(['N', 'O'])).toBe(true); // NO radical
    expect(oddValenceSum(['P', 'H', 'H'])).toBe(true); // P: 3 or 5, both odd
    expect(oddValenceSum(['Hg', 'H'])).toBe(false); // Hg: 1 or 2, no parity
    expect(oddValenceSum(['Xx', 'H'])).toBe(false); // unknown: unstable, but not by parity
    // the bound holds: an odd sum is never stable, whatever the geometry
    expect(stability(methyl).moleculeStable).toBe(false);
  });

  it('scores hand-built molecules as EDM does', async () => {
    const set = [methane, ethene, ethyne, benzene, methyl, disconnected, hypervalent];
    const r = await evaluateMolecules(set);
    const o = r.outcomes;
    // methane, ethene, ethyne: stable and valid
    for (const k of [0, 1, 2]) expect([o[k].stable, o[k].valid]).toEqual([true, true]);
    expect(o[0].smiles).toBe('[H]C([H])([H])[H]');
    expect(o[1].smiles).toBe('[H]C([H])=C([H])[H]');
    expect(o[2].smiles).toBe('[H]C#C[H]');
    // benzene at 1.397 Å: unstable but valid (RDKit fills the carbons' valence with implicit H)
    expect([o[3].stable, o[3].valid]).toEqual([false, true]);
    // methyl radical: carbon has valence 3 -> unstable, RDKit valid
    expect([o[4].stable, o[4].valid, o[4].stableAtoms]).toEqual([false, true, 3]);
    // disconnected methane + water: stable, valid, SMILES of the largest fragment only
    expect([o[5].stable, o[5].valid, o[5].smiles]).toEqual([true, true, '[H]C([H])([H])[H]']);
    // pentavalent carbon: unstable and invalid
    expect([o[6].stable, o[6].valid, o[6].stableAtoms]).toEqual([false, false, 5]);
    expect(o[6].reason).toMatch(/sanitization/);
    expect(r.atomStability).toBeCloseTo((5 + 6 + 4 + 6 + 3 + 8 + 5) / (5 + 6 + 4 + 12 + 4 + 8 + 6), 10);
    expect(r.moleculeStability).toBeCloseTo(4 / 7, 10);
    expect(r.validity).toBeCloseTo(6 / 7, 10);
    // methane appears twice among valid SMILES (alone and as the largest fragment)
    expect(r.uniqueness).toBeCloseTo(5 / 6, 10);
    // of the 3 unstable ones, CH3 (4 + 3) and CH5 (4 + 5) have odd valence sums, benzene (24 + 6) not
    expect(r.counts.oddValence).toBe(2);
    expect(formatReport(r, 's')).toMatch(/composition: 2 of 3 unstable molecules have an odd valence sum/);
  });

  it('scores collapsed atoms as EDM does and counts them on their own', async () => {
    // C-C at 0 Å reads as a triple bond, and H then bonds to both carbons: RDKit refuses it
    const dup = mol([['C', 0, 0, 0], ['C', 0, 0, 0], ['H', 1.09, 0, 0]]);
    // two atoms 0.052 Å apart, as in a sample of the shipped model: EDM's code reads [H]O
    const oh = mol([['O', 0, 0, 0], ['H', 0.052, 0, 0]]);
    const r = await evaluateMolecules([dup, oh]);
    expect(r.outcomes.map((o) => [o.collapsed, o.valid])).toEqual([[true, false], [true, true]]);
    expect(r.outcomes[0].reason).toMatch(/sanitization/);
    expect(r.outcomes[1].smiles).toBe('[H]O');
    expect(r.counts.collapsed).toBe(2);
    expect(formatReport(r, 'c')).toMatch(/collapsed: 2 molecules have two atoms closer than 0\.1 Å/);
    const none = await evaluateMolecules([dup]);
    // no valid molecule: uniqueness and novelty are undefined, shown as n/a, not 0.0%
    expect(none.uniqueness).toBeNull();
    const withTrain = await evaluateMolecules([dup], { trainSmiles: new Set(['C']) });
    expect([withTrain.uniqueness, withTrain.novelty]).toEqual([null, null]);
    const row = formatReport(withTrain, 'dup').split('\n').find((l) => l.startsWith('  this set'))!;
    expect(row.trim().split(/\s+/).slice(4)).toEqual(['0.0%', 'n/a', 'n/a', 'n/a']);
  });

  it('reports connected validity and fragments beside EDM validity', async () => {
    const methaneAndWater = mol([['C', 0, 0, 0], ['H', 0.63, 0.63, 0.63], ['H', 0.63, -0.63, -0.63], ['H', -0.63, 0.63, -0.63], ['H', -0.63, -0.63, 0.63], ['O', 5, 0, 0], ['H', 5.96, 0, 0], ['H', 4.76, 0.93, 0]]);
    const lone = mol([['C', 0, 0, 0]]);
    const r = await evaluateMolecules([methane, methaneAndWater, lone]);
    // EDM: all three valid (largest fragment; a lone atom sanitises); connected: methane and the lone atom
    expect([r.validity, r.connectedValidity]).toEqual([1, 2 / 3]);
    expect(r.outcomes.map((o) => o.fragments)).toEqual([1, 2, 1]);
    expect(r.meanFragments).toBeCloseTo(4 / 3, 12);
    expect(formatReport(r, 'f')).toMatch(/connected validity 66\.7% \(valid and one fragment\), mean fragments 1\.33/);
  });

  it('novelty counts unique SMILES absent from the training SMILES', async () => {
    const r = await evaluateMolecules([methane, ethene, ethyne], { trainSmiles: new Set(['[H]C([H])([H])[H]']) });
    expect(r.novelty).toBeCloseTo(2 / 3, 10);
    expect(r.counts.novel).toBe(2);
  });
});

describe('a run of any size: the evaluator keeps a bounded number of outcomes', () => {
  it('gives the same metrics and, through the spool, the same JSON as keeping every outcome', async () => {
    const base = [methane, hypervalent, ethene, hypervalent, hypervalent, ethyne, benzene, methyl, disconnected, hypervalent];
    const set = Array.from({ length: 4 }, (_, k) => base.map((m) => ({ ...m, name: `${m.name} ${k}` }))).flat();
    const all = await evaluateMolecules(set, { trainSmiles: new Set(['[H]C#C[H]']) });
    const dir = mkdtempSync(join(tmpdir(), 'edm-spool-'));
    const spool = new OutcomeSpool(join(dir, 'r.metrics.json'));
    const seen: MoleculeOutcome[] = [];
    const keep = 3;
    const e = await Evaluator.create({
      keepOutcomes: keep,
      onOutcome: (o) => {
        seen.push(o);
        spool.add(o);
      },
    });
    for (let i = 0; i < set.length; i += 7) e.add(set.slice(i, i + 7));
    const bounded = e.finish({ trainSmiles: new Set(['[H]C#C[H]']) });
    // every outcome reached the sink in order; the report kept the first 3 and then valid ones until 3 valid
    expect(seen).toEqual(all.outcomes);
    const validIdx = all.outcomes.filter((o) => o.valid).map((o) => o.index);
    expect(validIdx.length).toBeGreaterThan(keep);
    const firstValid = validIdx.filter((i) => i < keep).length;
    const expected = [0, 1, 2, ...validIdx.filter((i) => i >= keep).slice(0, keep - firstValid)];
    expect(bounded.outcomes.map((o) => o.index)).toEqual(expected);
    const { outcomes: _a, seconds: _s1, ...metricsAll } = all;
    const { outcomes: _b, seconds: _s2, ...metricsBounded } = bounded;
    expect(metricsBounded).toEqual(metricsAll);
    // the running tallies agree with the per-molecule outcomes
    expect(bounded.invalidReasons).toEqual({ 'RDKit sanitization failed (valence)': 16 });
    const hist = new Array<number>(STABLE_SHARE_BINS + 1).fill(0);
    for (const o of all.outcomes) hist[Math.floor((STABLE_SHARE_BINS * o.stableAtoms) / o.atoms)]++;
    expect(bounded.stableShareHistogram).toEqual(hist);
    expect(hist[STABLE_SHARE_BINS]).toBe(all.counts.stableMolecules);
    // the spooled JSON is byte for byte the in-memory JSON of the keep-all report, and the spool is gone
    const extra = { seed: 3 };
    spool.writeJson({ ...bounded, seconds: all.seconds }, extra);
    const text = readFileSync(join(dir, 'r.metrics.json'), 'utf8');
    expect(text).toBe(reportJson(all, extra));
    expect(JSON.parse(text).outcomes).toHaveLength(set.length);
    expect(readdirSync(dir)).toEqual(['r.metrics.json']);
  });

  it('one decode step: its bonds are the ones written and scored; molecules from files are scored by distances', async () => {
    const [d] = withBondsAndStability([methane]);
    expect(d.stability.moleculeStable).toBe(true);
    expect(withBondsAndStability([d])[0]).toBe(d);
    // the evaluator takes a decoded molecule's own bonds: with one C-H bond dropped it is unstable
    const dropped = d.bonds.slice(1);
    const broken = { ...d, bonds: dropped, stability: stability(d, dropped) };
    expect((await evaluateMolecules([broken])).moleculeStability).toBe(0);
    expect((await evaluateMolecules([d])).moleculeStability).toBe(1);
    // bonds read from a file are not EDM's: they are inferred again from the positions
    expect((await evaluateMolecules([{ ...methane, bonds: dropped }])).moleculeStability).toBe(1);
  });
});
