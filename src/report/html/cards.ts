/**
 * Molecule cards of the HTML report: a 2D depiction (RDKit), a place for the 3D view, and what
 * the protocol said of the molecule (SMILES, validity, stability, fragments).
 */
import type { Bond, Molecule } from '../../data/molecule.js';
import { toMolBlock } from '../../data/sdf.js';
import { valenceAllowed } from '../../decode/bonds.js';
import { distanceBonds, distanceStability, ownBondStability } from '../../decode/write.js';
import type { MoleculeOutcome } from '../../metrics/evaluate.js';
import { depictSmiles, loadRDKit } from '../../metrics/rdkit.js';
import { implicitHSmiles } from '../../metrics/fields.js';
import { VIEWER_PLACEHOLDER } from './client.js';

/** What the page's script needs to draw one molecule in 3D. */
export interface ViewerData {
  /** MDL molblock with the inferred bonds (3D coordinates, Å) */
  molblock: string;
  /** 0-based indices of atoms whose valence is not allowed */
  unstable: number[];
}

/** Escape text for HTML. */
export function escapeHtml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/**
 * The 3D data of a molecule: bonds inferred from distances, unstable atoms marked.
 * @param bonds the molecule's distance-inferred bonds, when already known
 */
export function viewerData(m: Molecule, bonds: Bond[] = distanceBonds(m)): ViewerData {
  const s = distanceStability(m, bonds);
  const unstable = m.elements.flatMap((e, i) => (valenceAllowed(e, s.valences[i]) ? [] : [i]));
  return { molblock: toMolBlock(m, bonds), unstable };
}

/**
 * Where a molecule's own bonds (a bond-aware model's, `modelBonds`) and EDM's distance-inferred
 * ones disagree, in words: e.g. "C1-C2: own 1, distance 2", atoms numbered from 1, pairs in order.
 * @param bonds the molecule's distance-inferred bonds, when already known
 * @returns the differing pairs (empty when they agree or the molecule has no own bonds)
 */
export function bondDisagreements(m: Molecule, bonds: Bond[] = distanceBonds(m)): string[] {
  if (!m.modelBonds) return [];
  const orders = (list: Bond[]): Map<string, number> => new Map(list.map((b) => [`${Math.min(b.i, b.j)}-${Math.max(b.i, b.j)}`, b.order]));
  const own = orders(m.modelBonds);
  const inferred = orders(bonds);
  const pairs = [...new Set([...own.keys(), ...inferred.keys()])].filter((k) => own.get(k) !== inferred.get(k));
  pairs.sort((a, b) => Number(a.split('-')[0]) - Number(b.split('-')[0]) || Number(a.split('-')[1]) - Number(b.split('-')[1]));
  return pairs.map((k) => {
    const [i, j] = k.split('-').map(Number);
    return `${m.elements[i]}${i + 1}-${m.elements[j]}${j + 1}: own ${own.get(k) ?? 0}, distance ${inferred.get(k) ?? 0}`;
  });
}

/**
 * The cards of `molecules` (HTML) and their 3D data, in order.
 * @param outcomes the evaluation's outcome of each molecule (same order)
 * @param notes a line of further scores per molecule (e.g. a ligand's fit and Vina), same order
 */
export async function moleculeCards(molecules: Molecule[], outcomes: MoleculeOutcome[], notes?: string[]): Promise<{ html: string; data: ViewerData[] }> {
  const rdkit = await loadRDKit();
  const data: ViewerData[] = [];
  const cards = molecules.map((m, k) => {
    const o = outcomes[k];
    const bonds = distanceBonds(m);
    data.push(viewerData(m, bonds));
    const svg = o.valid && o.smiles ? depictSmiles(rdkit, o.smiles, 200, 150) : null;
    const depiction = svg ? svg.replace(/<\?xml[^>]*\?>\s*/, '') : `<div class="no-depiction">${o.valid ? 'no depiction' : 'invalid'}</div>`;
    const status = [
      o.valid ? '<span class="ok">valid</span>' : `<span class="bad" title="${escapeHtml(o.reason ?? '')}">invalid</span>`,
      o.stable ? '<span class="ok">stable</span>' : `<span class="bad">${o.atoms - o.stableAtoms} unstable atom${o.atoms - o.stableAtoms === 1 ? '' : 's'}</span>`,
      o.fragments > 1 ? `<span class="warn">${o.fragments} fragments</span>` : '',
      o.collapsed ? '<span class="warn">collapsed atoms</span>' : '',
    ].filter(Boolean);
    // a bond-aware model's own bonds beside EDM's: whether they are stable, and where they differ
    const diff = bondDisagreements(m, bonds);
    const own = ownBondStability(m);
    const ownLine = own
      ? `\n<div class="scores">own bonds: ${own.moleculeStable ? 'stable' : 'unstable'}; ${diff.length === 0 ? 'the same as from distances' : `${diff.length} differ from distances: ${escapeHtml(diff.slice(0, 6).join('; '))}${diff.length > 6 ? '; ...' : ''}`}</div>`
      : '';
    return `<div class="card" data-index="${k}">
<div class="title">${escapeHtml(m.name ?? `molecule ${o.index + 1}`)} · ${o.atoms} atoms</div>
<div class="views"><div class="depiction">${depiction}</div><div class="viewer" id="viewer-${k}">${VIEWER_PLACEHOLDER}</div></div>
<div class="smiles">${o.smiles ? escapeHtml(implicitHSmiles(rdkit, o.smiles) ?? o.smiles) : '&nbsp;'}</div>
<div class="status">${status.join(' ')}</div>${ownLine}${notes?.[k] ? `\n<div class="scores">${escapeHtml(notes[k])}</div>` : ''}
</div>`;
  });
  return { html: cards.join('\n'), data };
}
