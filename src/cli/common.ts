/**
 * What every command shares: paths, the default checkpoint, backend start-up, error exit.
 */
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BackendName, initBackend } from '../backend.js';
import { UserError } from '../errors.js';

/** Root of the installed package (holds checkpoints/). */
export const PACKAGE_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The checkpoint `edm sample` uses when none is given. */
export const DEFAULT_CHECKPOINT = resolve(PACKAGE_ROOT, 'checkpoints', 'qm9-default');

/** QM9 in EDM's split, where the team's machines keep it. */
export const DEFAULT_QM9_DIR = resolve(PACKAGE_ROOT, '..', 'shared', 'data', 'qm9');

/** Resolve a path given on the command line against the working directory. */
export const userPath = (p: string): string => resolve(process.cwd(), p);

/** Start the compute backend chosen by `--backend`. */
export async function startBackend(name: string | undefined): Promise<string> {
  return initBackend((name ?? 'auto') as BackendName);
}

/**
 * Run a command body; user mistakes become one line on stderr and exit code 2, bugs keep
 * their stack trace and exit code 1.
 */
export async function runCommand(body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (e) {
    if (e instanceof UserError) {
      process.stderr.write(`edm: error: ${e.message}\n`);
      process.exitCode = 2;
    } else {
      process.stderr.write(`edm: internal error: ${(e as Error).stack ?? String(e)}\n`);
      process.exitCode = 1;
    }
  }
}

/** Whether a file exists (for defaults that depend on ../shared). */
export const exists = (p: string): boolean => existsSync(p);
