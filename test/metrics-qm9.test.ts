/**
 * Our metrics on QM9's test split equal what EDM's own analysis code gives on the same file
 * (../shared/data/qm9/README.md): atom stability 99.34%, molecule stability 95.22%,
 * validity 97.74%, uniqueness 100%.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { readMolecules } from '../src/data/read.js';
import { evaluateMolecules } from '../src/metrics/evaluate.js';
import { computeReference } from '../src/metrics/reference.js';
import { SHARED, skipWithoutShared } from './helpers.js';

describe('EDM metrics on QM9 test', () => {
  beforeEach(skipWithoutShared);
  it('reproduces EDM analysis figures on qm9_test.xyz.gz (13,083 molecules)', async () => {
    const mols = readMolecules(join(SHARED, 'data', 'qm9', 'qm9_test.xyz.gz'));
    expect(mols).toHaveLength(13083);
    const r = await evaluateMolecules(mols);
    expect(Math.abs(r.atomStability - 0.9934)).toBeLessThan(0.0001);
    expect(Math.abs(r.moleculeStability - 0.9522)).toBeLessThan(0.0001);
    expect(Math.abs(r.validity - 0.9774)).toBeLessThan(0.0001);
    expect(r.uniqueness).toBe(1);
    // SMILES come from the bond graph, as EDM's RWMol: no stereo perceived from 3D coordinates
    expect(r.outcomes.filter((o) => o.smiles && /[@/\\]/.test(o.smiles))).toEqual([]);
  });

  it('novelty against a training reference built by the same pipeline', async () => {
    const test = readMolecules(join(SHARED, 'data', 'qm9', 'qm9_test.xyz.gz')).slice(0, 300);
    const ref = await computeReference(test.slice(0, 100), 'first 100', 'k');
    const r = await evaluateMolecules(test, { trainSmiles: ref.smiles });
    // the first 100 are in the "training" reference, so at most the other 200 can be novel
    expect(r.counts.novel!).toBeLessThanOrEqual(r.counts.unique - ref.smiles.size + 0);
    expect(r.counts.novel!).toBeGreaterThan(150);
  });
});
