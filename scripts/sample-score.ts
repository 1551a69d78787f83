/**
 * What the trial scripts share (trial-row.ts, sampler-table.ts): a one-line error exit, and
 * `edm sample` then `edm evaluate` on one checkpoint, keeping the samples for a rerun.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../src/internal.js';

/** A function that prints `script: message` and exits with code 2. */
export const failer =
  (script: string) =>
  (msg: string): never => {
    process.stderr.write(`${script}: ${msg}\n`);
    process.exit(2);
  };

/**
 * Sample with `sampleArgs` (flags of `edm sample`) into `sdf` unless it exists (written under a
 * temporary name, then renamed, so a stopped run leaves no SDF to reuse), then score it with
 * `edm evaluate --json`.
 * @param evaluateArgs further flags of `edm evaluate` (e.g. `--own-bonds`)
 * @returns the evaluation report (the JSON `edm evaluate` writes) and `sampleSeconds`, the wall
 *   seconds of the `edm sample` command that wrote `sdf` (null when it was written elsewhere)
 */
export function sampleAndScore(script: string, checkpoint: string, sdf: string, sampleArgs: string[], evaluateArgs: string[] = []): Record<string, any> {
  const fail = failer(script);
  const edm = join(PACKAGE_ROOT, 'bin', 'edm.js');
  const run = (args: string[]): void => {
    process.stderr.write(`${script}: edm ${args.join(' ')}\n`);
    try {
      execFileSync(process.execPath, [edm, ...args], { stdio: ['ignore', 'ignore', 'inherit'] });
    } catch {
      fail(`edm ${args[0]} failed (its message is above)`);
    }
  };
  const secondsFile = sdf.replace(/\.sdf$/, '.seconds');
  if (!existsSync(sdf)) {
    const part = sdf.replace(/\.sdf$/, '.part.sdf');
    const t0 = performance.now();
    run(['sample', ...sampleArgs, '--checkpoint', checkpoint, '--out', part, '--no-eval']);
    // the whole sampling command's wall time (start-up included), for molecules per second
    writeFileSync(secondsFile, `${((performance.now() - t0) / 1000).toFixed(1)}\n`);
    renameSync(part, sdf);
  }
  const json = sdf.replace(/\.sdf$/, '.json');
  run(['evaluate', sdf, '--checkpoint', checkpoint, '--json', json, ...evaluateArgs]);
  const report = JSON.parse(readFileSync(json, 'utf8'));
  return { ...report, sampleSeconds: existsSync(secondsFile) ? Number(readFileSync(secondsFile, 'utf8')) : null };
}
