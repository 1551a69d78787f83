/**
 * Docking re-scoring and force-field relaxation with external tools, when installed:
 * AutoDock Vina 1.2 (Eberhardt et al. 2021) for the score of the pose as generated
 * (`--score_only`) and after local optimisation in the fixed pocket (`--local_only`), Open Babel
 * (`obabel`) for PDBQT preparation (Gasteiger charges, rigid receptor), and a short MMFF94
 * relaxation of the ligand inside the fixed pocket (Halgren 1996; Open Babel's force field through
 * its Python bindings, `mmff_in_pocket.py`, since `obminimize` cannot hold atoms fixed), whose pose
 * is then scored by Vina too. Debian packages: autodock-vina, openbabel, python3-openbabel.
 */
import { execFile, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Molecule } from '../data/molecule.js';
import { toMolBlock } from '../data/sdf.js';
import { InterruptedError } from '../errors.js';
import { formatPdbAtoms } from './pdb.js';
import { type PocketSite, residuesNear } from './site.js';

/** Conjugate-gradient steps of the in-pocket MMFF94 relaxation ("short", as in DiffSBDD's protocol). */
export const MMFF_STEPS = 200;
/**
 * Residues with an atom this close to the ligand are the fixed environment of the relaxation, Å.
 * MMFF94's van der Waals term is negligible beyond it, and Open Babel evaluates every atom pair,
 * fixed ones included, so the whole 10 Å pocket would cost about 10x more (51 s against 5.5 s
 * for caffeine in 3rfm, 200 steps).
 */
export const MMFF_SHELL = 6.0;
/** The helper script; the same relative path from src/pocket and dist/pocket. */
const MMFF_SCRIPT = fileURLToPath(new URL('../../src/pocket/mmff_in_pocket.py', import.meta.url));

/** Scores of one ligand, kcal/mol (lower binds better); undefined when a tool failed on it. */
export interface DockingScores {
  /** Vina score of the pose as it is */
  vinaScore?: number;
  /** Vina score after Vina's local optimisation in the pocket */
  vinaLocalOpt?: number;
  /** Vina score after a 200-step MMFF94 relaxation of the ligand in the fixed pocket */
  vinaAfterMmff?: number;
  /** MMFF94 energy change of that relaxation (ligand + ligand-pocket terms), kcal/mol */
  mmffEnergyChange?: number;
  /** heavy-atom RMSD between the generated and the relaxed pose, Å */
  mmffRmsd?: number;
  /** `[N * 3]` relaxed positions, Å, protein frame */
  relaxedPositions?: Float32Array;
  /** why a score is missing */
  error?: string;
}

/** Which tools are on PATH, and what is missing. */
export interface ToolStatus {
  vina: boolean;
  obabel: boolean;
  /** a python3 that imports Open Babel's bindings, for the in-pocket relaxation */
  python?: string;
  /** one line for reports when something is missing, else undefined */
  missing?: string;
}

const has = (cmd: string): boolean => spawnSync(cmd, ['--help'], { encoding: 'utf8' }).error === undefined;

/** The first python3 (`$EDM_PYTHON`, PATH, then Debian's) that imports Open Babel. */
function pythonWithOpenBabel(): string | undefined {
  const candidates = [process.env.EDM_PYTHON, 'python3', '/usr/bin/python3'].filter((c): c is string => !!c);
  return candidates.find((py) => spawnSync(py, ['-c', 'from openbabel import openbabel'], { encoding: 'utf8' }).status === 0);
}

/** Look for vina, obabel and a python3 with Open Babel's bindings. */
export function dockingTools(): ToolStatus {
  const s: ToolStatus = { vina: has('vina'), obabel: has('obabel'), python: pythonWithOpenBabel() };
  const absent = (['vina', 'obabel'] as const).filter((k) => !s[k]);
  if (absent.length) {
    s.missing = `Vina columns missing: ${absent.join(', ')} not found on PATH (Debian: apt-get install autodock-vina openbabel python3-openbabel)`;
  } else if (!s.python) {
    s.missing = 'MMFF94 columns missing: no python3 with Open Babel bindings (Debian: apt-get install python3-openbabel; or set EDM_PYTHON)';
  }
  return s;
}

/** Run a tool and wait (the receptor's one-off preparation). @throws Error with its last line */
/**
 * The tools' environment: one OpenMP thread each. Ligands are scored side by side, one per core,
 * and Open Babel's force field sums its terms over OpenMP threads, so with the default (a thread
 * per core) the lanes oversubscribed the cores and MMFF94 energies depended on the core count
 * (5ndu's reference ligand: 2,912.6 kcal/mol after 200 steps on 2 threads, 2,901.3 on 1).
 */
const TOOL_ENV = { ...process.env, OMP_NUM_THREADS: '1' };

function run(cmd: string, args: string[], cwd: string): string {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout: 120_000, env: TOOL_ENV });
  if (r.error || r.status !== 0) throw new Error(`${cmd} failed: ${(r.error?.message ?? r.stderr ?? '').split('\n').filter(Boolean).slice(-1)[0] ?? r.status}`);
  return `${r.stdout}\n${r.stderr}`;
}

/**
 * Run a tool without blocking (ligands are scored side by side); `signal` kills it.
 * @throws Error with its last line; InterruptedError once `signal` is aborted
 */
function runAsync(cmd: string, args: string[], cwd: string, signal?: AbortSignal): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { cwd, encoding: 'utf8', timeout: 120_000, signal, maxBuffer: 64 * 2 ** 20, env: TOOL_ENV }, (error, stdout, stderr) => {
      // an interruption, wherever it lands (the generated ligands or the reference): exit 130, not an internal error
      if (signal?.aborted) return reject(new InterruptedError('docking stopped'));
      if (error) return reject(new Error(`${cmd} failed: ${(stderr || error.message).split('\n').filter(Boolean).slice(-1)[0] ?? error.code}`));
      resolve(`${stdout}\n${stderr}`);
    });
  });
}

function vinaEnergy(out: string): number {
  const m = /Estimated Free Energy of Binding\s*:\s*(-?[\d.]+)/.exec(out);
  if (!m) throw new Error('vina printed no score');
  return Number(m[1]);
}

/** A scoring session: the receptor is prepared once; ligands are scored in folders of their own, side by side. */
export class VinaScorer {
  private readonly dir = mkdtempSync(join(tmpdir(), 'edm-vina-'));
  private slots = 0;

  /**
   * Prepare the receptor (pocket atoms, rigid) as PDBQT.
   * @param python a python3 with Open Babel's bindings; without it the MMFF94 step is skipped
   * @throws Error when obabel fails
   */
  constructor(
    private readonly site: PocketSite,
    private readonly python?: string,
  ) {
    writeFileSync(join(this.dir, 'pocket.pdb'), formatPdbAtoms(site.atoms) + 'END\n');
    run('obabel', ['pocket.pdb', '-xr', '-O', 'receptor.pdbqt'], this.dir);
  }

  /**
   * Score one ligand (bonds are taken from `mol.bonds`) in a folder of its own, so several run at
   * once. Never throws for a tool's failure (it goes to `error`).
   * @param signal stops the tools at once (the promise then rejects)
   */
  async score(mol: Molecule, signal?: AbortSignal): Promise<DockingScores> {
    const out: DockingScores = {};
    const dir = join(this.dir, `ligand${this.slots++}`);
    mkdirSync(dir);
    const tool = (cmd: string, args: string[]): Promise<string> => runAsync(cmd, args, dir, signal);
    try {
      writeFileSync(join(dir, 'lig.sdf'), `${toMolBlock(mol)}$$$$\n`);
      await tool('obabel', ['lig.sdf', '-O', 'lig.pdbqt']);
      const vina = async (extra: string[]): Promise<number> => vinaEnergy(await tool('vina', ['--receptor', '../receptor.pdbqt', '--ligand', 'lig.pdbqt', '--autobox', ...extra]));
      out.vinaScore = await vina(['--score_only']);
      out.vinaLocalOpt = await vina(['--local_only', '--out', 'local.pdbqt']);
      if (this.python) {
        Object.assign(out, await this.relax(mol, dir, tool));
        writeFileSync(join(dir, 'relaxed.sdf'), `${toMolBlock({ ...mol, positions: out.relaxedPositions! })}$$$$\n`);
        await tool('obabel', ['relaxed.sdf', '-O', 'lig.pdbqt']);
        out.vinaAfterMmff = await vina(['--score_only']);
      }
    } catch (e) {
      if (signal?.aborted) throw e;
      out.error = (e as Error).message;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    return out;
  }

  /** MMFF94 relaxation of `mol` (lig.sdf in `dir`) among the fixed residues near it. @throws Error when it fails */
  private async relax(mol: Molecule, dir: string, tool: (cmd: string, args: string[]) => Promise<string>): Promise<Pick<DockingScores, 'mmffEnergyChange' | 'mmffRmsd' | 'relaxedPositions'>> {
    writeFileSync(join(dir, 'shell.pdb'), formatPdbAtoms(residuesNear(this.site.atoms, mol.positions, MMFF_SHELL)) + 'END\n');
    const line = (await tool(this.python!, [MMFF_SCRIPT, String(MMFF_STEPS), 'shell.pdb', 'lig.sdf'])).split('\n').find((l) => l.startsWith('{'));
    const r = line ? (JSON.parse(line) as { ok: boolean; error?: string; e_before: number; e_after: number; positions: number[] }) : undefined;
    if (!r?.ok) throw new Error(`MMFF94 relaxation failed: ${r?.error ?? 'no output'}`);
    const relaxed = Float32Array.from(r.positions);
    return { mmffEnergyChange: r.e_after - r.e_before, mmffRmsd: heavyRmsd(mol, relaxed), relaxedPositions: relaxed };
  }

  /** Remove the working folder. */
  close(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Heavy-atom RMSD between a molecule's positions and `moved` (`[N * 3]`, same atom order), Å. */
function heavyRmsd(mol: Molecule, moved: Float32Array): number {
  let sum = 0;
  let n = 0;
  mol.elements.forEach((e, i) => {
    if (e === 'H') return;
    for (let d = 0; d < 3; d++) sum += (mol.positions[3 * i + d] - moved[3 * i + d]) ** 2;
    n++;
  });
  return n ? Math.sqrt(sum / n) : 0;
}
