/**
 * Docking re-scoring and force-field relaxation with external tools, when installed:
 * AutoDock Vina 1.2 (Eberhardt et al. 2021) for the score of the pose as generated
 * (`--score_only`) and after local optimisation in the fixed pocket (`--local_only`), Open Babel
 * (`obabel`) for PDBQT preparation (Gasteiger charges, rigid receptor) and `obminimize` for a
 * short MMFF94 relaxation of the ligand (Halgren 1996), whose pose is then scored by Vina too.
 * Debian packages: autodock-vina, openbabel.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Molecule } from '../data/molecule.js';
import { toMolBlock } from '../data/sdf.js';
import { formatPdbAtoms } from './pdb.js';
import type { PocketSite } from './site.js';

/** Scores of one ligand, kcal/mol (lower binds better); undefined when a tool failed on it. */
export interface DockingScores {
  /** Vina score of the pose as it is */
  vinaScore?: number;
  /** Vina score after Vina's local optimisation in the pocket */
  vinaLocalOpt?: number;
  /** Vina score after a 200-step MMFF94 relaxation of the ligand (obminimize) */
  vinaAfterMmff?: number;
  /** why a score is missing */
  error?: string;
}

/** Which tools are on PATH, and what is missing. */
export interface ToolStatus {
  vina: boolean;
  obabel: boolean;
  obminimize: boolean;
  /** one line for reports when something is missing, else undefined */
  missing?: string;
}

const has = (cmd: string): boolean => spawnSync(cmd, ['--help'], { encoding: 'utf8' }).error === undefined;

/** Look for vina, obabel and obminimize. */
export function dockingTools(): ToolStatus {
  const s: ToolStatus = { vina: has('vina'), obabel: has('obabel'), obminimize: has('obminimize') };
  const absent = (['vina', 'obabel', 'obminimize'] as const).filter((k) => !s[k]);
  if (absent.length) {
    s.missing = `Vina columns missing: ${absent.join(', ')} not found on PATH (Debian: apt-get install autodock-vina openbabel)`;
  }
  return s;
}

function run(cmd: string, args: string[], cwd: string): string {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout: 120_000 });
  if (r.error || r.status !== 0) throw new Error(`${cmd} failed: ${(r.error?.message ?? r.stderr ?? '').split('\n').filter(Boolean).slice(-1)[0] ?? r.status}`);
  return `${r.stdout}\n${r.stderr}`;
}

function vinaEnergy(out: string): number {
  const m = /Estimated Free Energy of Binding\s*:\s*(-?[\d.]+)/.exec(out);
  if (!m) throw new Error('vina printed no score');
  return Number(m[1]);
}

/** A scoring session: the receptor is prepared once, ligands are scored one by one. */
export class VinaScorer {
  private readonly dir = mkdtempSync(join(tmpdir(), 'edm-vina-'));

  /** Prepare the receptor (pocket atoms, rigid) as PDBQT. @throws Error when obabel fails */
  constructor(site: PocketSite) {
    writeFileSync(join(this.dir, 'pocket.pdb'), formatPdbAtoms(site.atoms) + 'END\n');
    run('obabel', ['pocket.pdb', '-xr', '-O', 'receptor.pdbqt'], this.dir);
  }

  /** Score one ligand (bonds are taken from `mol.bonds`). Never throws: failures go to `error`. */
  score(mol: Molecule): DockingScores {
    const out: DockingScores = {};
    try {
      writeFileSync(join(this.dir, 'lig.sdf'), `${toMolBlock(mol)}$$$$\n`);
      run('obabel', ['lig.sdf', '-O', 'lig.pdbqt'], this.dir);
      const vina = (extra: string[]): number => vinaEnergy(run('vina', ['--receptor', 'receptor.pdbqt', '--ligand', 'lig.pdbqt', '--autobox', ...extra], this.dir));
      out.vinaScore = vina(['--score_only']);
      out.vinaLocalOpt = vina(['--local_only', '--out', 'local.pdbqt']);
      const relaxed = run('obminimize', ['-ff', 'MMFF94', '-n', '200', '-osdf', 'lig.sdf'], this.dir);
      writeFileSync(join(this.dir, 'relaxed.sdf'), relaxed.slice(0, relaxed.indexOf('$$$$') + 4) + '\n');
      run('obabel', ['relaxed.sdf', '-O', 'lig.pdbqt'], this.dir);
      out.vinaAfterMmff = vina(['--score_only']);
    } catch (e) {
      out.error = (e as Error).message;
    }
    return out;
  }

  /** Remove the working folder. */
  close(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

