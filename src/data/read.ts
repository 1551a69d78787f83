/**
 * Read molecules from any supported file, by extension.
 */
import { existsSync, statSync } from 'node:fs';
import { InputError } from '../errors.js';
import type { Molecule } from './molecule.js';
import { readSdf } from './sdf.js';
import { readXyz } from './xyz.js';

/**
 * Read `.xyz`, `.xyz.gz`, `.sdf`, `.sdf.gz` or `.mol` files.
 * @param knownElements if given, any other element is an InputError naming element and line
 * @throws InputError for an unknown extension or a malformed file (naming file and line)
 */
export function readMolecules(path: string, knownElements?: readonly string[]): Molecule[] {
  if (existsSync(path) && statSync(path).isDirectory()) throw new InputError('is a folder, not a molecule file (.xyz, .sdf or .mol, optionally .gz)', path);
  const p = path.toLowerCase().replace(/\.gz$/, '');
  if (p.endsWith('.xyz')) return readXyz(path, knownElements);
  if (p.endsWith('.sdf') || p.endsWith('.mol') || p.endsWith('.sd')) return readSdf(path, knownElements);
  throw new InputError('unknown file type (expected .xyz, .sdf or .mol, optionally .gz)', path);
}
