/**
 * Molecular properties by GFN2-xTB (Bannwarth, Ehlert & Grimme, JCTC 15, 1652, 2019): one single
 * point per molecule with the `xtb` program (an optional system dependency, Debian package
 * `xtb`), read from its text output. QM9's own properties are DFT (B3LYP/6-31G(2df,p)); these are
 * a cheaper, self-computed stand-in that the project can also compute on generated molecules.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InputError, InterruptedError } from '../errors.js';
import type { Molecule } from '../data/molecule.js';
import { formatXyz } from '../data/xyz.js';

/** The properties xtb gives a molecule, in the units of EDM's Table 3 except energies (eV here). */
export interface XtbProperties {
  /** HOMO-LUMO gap, eV */
  gap: number;
  /** HOMO energy, eV */
  homo: number;
  /** LUMO energy, eV */
  lumo: number;
  /** dipole moment |mu|, Debye */
  mu: number;
  /** static isotropic polarizability alpha(0), bohr^3 */
  alpha: number;
}

/** The xtb command line used for every molecule (the input file name comes first). */
export const XTB_ARGS = ['--gfn', '2', '--sp'] as const;

const NUM = String.raw`(-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)`;

/**
 * Read the properties from xtb's standard output. The orbital table is printed more than once;
 * the last HOMO and LUMO lines are the converged ones.
 * @param text xtb's standard output
 * @throws Error naming the first property that is missing (a failed or truncated run)
 */
export function parseXtbOutput(text: string): XtbProperties {
  const last = (re: RegExp): number | undefined => {
    let v: number | undefined;
    for (const m of text.matchAll(re)) v = Number(m[1]);
    return v;
  };
  const found: Partial<XtbProperties> = {
    homo: last(new RegExp(String.raw`${NUM}\s+\(HOMO\)`, 'g')),
    lumo: last(new RegExp(String.raw`${NUM}\s+\(LUMO\)`, 'g')),
    gap: last(new RegExp(String.raw`\|\s*HOMO-LUMO GAP\s+${NUM}\s+eV`, 'g')),
    alpha: last(new RegExp(String.raw`Mol\. α\(0\) /au\s*:\s*${NUM}`, 'g')),
  };
  // the dipole's "full:" row: x, y, z in a.u., then the total in Debye
  const dip = /molecular dipole:[^\n]*\n[^\n]*\n[^\n]*\n\s*full:\s+\S+\s+\S+\s+\S+\s+(\S+)/.exec(text);
  found.mu = dip ? Number(dip[1]) : undefined;
  for (const k of ['gap', 'homo', 'lumo', 'mu', 'alpha'] as const) {
    if (found[k] === undefined || !Number.isFinite(found[k])) throw new Error(`xtb output has no ${k}`);
  }
  return found as XtbProperties;
}

/** Options of one xtb run. */
export interface XtbRunOptions {
  /** total charge (default 0) */
  charge?: number;
  /** unpaired electrons (default 0: closed shell) */
  uhf?: number;
  /** the program (default `xtb` on the PATH) */
  command?: string;
  /** wall-clock limit of one run, ms (default 120,000) */
  timeoutMs?: number;
  /** stops the run: xtb is killed and its folder removed */
  signal?: AbortSignal;
}

/**
 * Run one GFN2-xTB single point on a molecule in a fresh temporary folder (removed afterwards),
 * one thread (several molecules run in parallel instead).
 * @param mol elements and positions (Å)
 * @returns the properties, or `{ error }` with xtb's reason when it fails or gives no result
 * @throws InputError when the program cannot be started at all (not installed); InterruptedError
 *   when `signal` stops it
 */
export async function runXtb(mol: Molecule, opts: XtbRunOptions = {}): Promise<XtbProperties | { error: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'edm-xtb-'));
  try {
    writeFileSync(join(dir, 'mol.xyz'), formatXyz([mol], () => mol.name ?? 'molecule'));
    const args = ['mol.xyz', ...XTB_ARGS, '--chrg', String(opts.charge ?? 0), '--uhf', String(opts.uhf ?? 0)];
    const { stdout, code, spawnError } = await new Promise<{ stdout: string; code: number | null; spawnError?: NodeJS.ErrnoException }>((done) => {
      execFile(opts.command ?? 'xtb', args, { cwd: dir, signal: opts.signal, timeout: opts.timeoutMs ?? 120_000, maxBuffer: 64 * 2 ** 20, env: { ...process.env, OMP_NUM_THREADS: '1', MKL_NUM_THREADS: '1' } }, (err, out) => {
        const e = err as (NodeJS.ErrnoException & { code?: number | string }) | null;
        done({ stdout: String(out ?? ''), code: e ? (typeof e.code === 'number' ? e.code : null) : 0, spawnError: e && typeof e.code === 'string' ? e : undefined });
      });
    });
    if (opts.signal?.aborted) throw new InterruptedError('xtb stopped');
    if (spawnError?.code === 'ENOENT') throw new InputError(`the xtb program was not found (${opts.command ?? 'xtb'}); install it, e.g. apt-get install xtb`);
    if (code !== 0) return { error: `xtb exited with ${code ?? spawnError?.code ?? 'a signal'}` };
    try {
      return parseXtbOutput(stdout);
    } catch (e) {
      return { error: (e as Error).message };
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The xtb version line (e.g. `xtb version 6.5.1`), or undefined when xtb is not installed.
 */
export async function xtbVersion(command = 'xtb'): Promise<string | undefined> {
  return new Promise((done) => {
    execFile(command, ['--version'], { timeout: 30_000 }, (err, out) => {
      const m = /xtb version\s+(\S+)/.exec(String(out ?? ''));
      done(err && !m ? undefined : m ? `xtb version ${m[1]}` : undefined);
    });
  });
}
