/**
 * An SVG grid of 2D depictions (RDKit) of valid molecules, so a person can see what was made.
 */
import { depictSmiles, loadRDKit } from '../metrics/rdkit.js';

const escapeXml = (s: string): string => s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!);

/**
 * Draw molecules given by SMILES in a grid.
 * @param items SMILES with a label each
 * @param columns cells per row
 * @returns SVG text
 */
export async function svgGrid(items: { smiles: string; label: string }[], columns = 6, cell = 200): Promise<string> {
  const rdkit = await loadRDKit();
  const rows = Math.max(1, Math.ceil(items.length / columns));
  const width = columns * cell;
  const height = rows * (cell + 20);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
  ];
  items.forEach((it, k) => {
    const x = (k % columns) * cell;
    const y = Math.floor(k / columns) * (cell + 20);
    const svg = depictSmiles(rdkit, it.smiles, cell, cell);
    if (svg) {
      const inner = svg.replace(/<\?xml[^>]*\?>/, '').replace(/^\s*<svg/, `<svg x="${x}" y="${y}"`);
      parts.push(inner);
    }
    parts.push(`<text x="${x + cell / 2}" y="${y + cell + 14}" font-family="sans-serif" font-size="11" text-anchor="middle">${escapeXml(it.label)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}
