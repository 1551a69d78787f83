/**
 * Label QM9 with GFN2-xTB properties (issue 42): one single point per molecule of the train,
 * valid and test splits, several xtb processes at once, written to one gzipped CSV keyed by
 * gdb id (gap, HOMO, LUMO in eV; mu in D; alpha(0) in bohr^3) whose `#` lines give the xtb
 * version, the command and every molecule xtb failed on (listed, never guessed).
 *
 *   node --import tsx scripts/label-xtb.ts [--out data/qm9-xtb.csv.gz] [--jobs 2] [--qm9 DIR] [--limit N]
 *
 * Resumable: each result is appended to `<out>.partial` as it arrives; run the same command
 * again after a stop (Ctrl-C, a crash) and only the missing molecules are computed. The final
 * file is written atomically and the partial file removed. Needs `xtb` (apt-get install xtb)
 * and ../shared/data/qm9 (or --qm9).
 */
import { appendFileSync, existsSync, readFileSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { computeProperties, DEFAULT_QM9_DIR, gdbId, InterruptedError, loadQm9Split, type Molecule, PACKAGE_ROOT, type PropertyName, writeLabels, XTB_ARGS, xtbVersion } from '../src/internal.js';

const COLUMNS: PropertyName[] = ['gap', 'homo', 'lumo', 'mu', 'alpha'];
const { values: a } = parseArgs({
  options: {
    out: { type: 'string', default: resolve(PACKAGE_ROOT, 'data', 'qm9-xtb.csv.gz') },
    jobs: { type: 'string', default: '2' },
    qm9: { type: 'string', default: DEFAULT_QM9_DIR },
    limit: { type: 'string' },
  },
});
const out = resolve(a.out!);
const partial = `${out}.partial`;
const jobs = Number(a.jobs);
if (!Number.isInteger(jobs) || jobs < 1 || jobs > 64) throw new Error(`--jobs must be an integer in 1..64, not ${a.jobs}`);
const version = await xtbVersion();
if (!version) {
  process.stderr.write('label-xtb: the xtb program is not installed (apt-get install xtb); nothing computed\n');
  process.exit(2);
}
if (!existsSync(a.qm9!)) {
  process.stderr.write(`label-xtb: no QM9 folder at ${a.qm9} (give --qm9)\n`);
  process.exit(2);
}

const mols: Molecule[] = [];
for (const split of ['train', 'valid', 'test'] as const) mols.push(...(await loadQm9Split(a.qm9!, split)));
const todo = a.limit ? mols.slice(0, Number(a.limit)) : mols;

// results so far: "id,ok,v1,...,v5" or "id,failed,reason"; a torn last line is ignored
const done = new Map<number, string[]>();
if (existsSync(partial)) {
  const text = readFileSync(partial, 'utf8');
  for (const line of text.split('\n')) {
    const c = line.split(',');
    if ((c[1] === 'ok' && c.length === COLUMNS.length + 2) || (c[1] === 'failed' && c.length >= 3)) done.set(Number(c[0]), c);
  }
  // a torn line would glue onto the next append: start the file on a fresh line
  if (text.length > 0 && !text.endsWith('\n')) appendFileSync(partial, '\n');
}
const queue = todo.filter((m) => !done.has(gdbId(m.name) ?? -1));
process.stderr.write(`label-xtb: ${todo.length} molecules, ${done.size} already in ${partial}, ${queue.length} to compute with ${jobs} xtb processes (${version})\n`);

// Ctrl-C: the running xtb processes are killed (their folders removed); what finished is kept
const interrupt = new AbortController();
process.on('SIGINT', () => interrupt.abort());
const t0 = Date.now();
let finished = 0;
try {
  await computeProperties(queue, {
    jobs,
    signal: interrupt.signal,
    onResult: (i, r) => {
      const id = gdbId(queue[i].name);
      if (id === undefined) throw new Error(`a QM9 molecule without a "gdb <id>" name: ${queue[i].name}`);
      const cells = 'properties' in r ? [id, 'ok', ...COLUMNS.map((k) => r.properties[k])] : [id, 'failed', ('failed' in r ? r.failed : r.skipped).replaceAll(',', ';')];
      appendFileSync(partial, `${cells.join(',')}\n`);
      done.set(id, cells.map(String));
      if (++finished % 2000 === 0) process.stderr.write(`  ${finished} of ${queue.length} in ${((Date.now() - t0) / 1000).toFixed(0)} s\n`);
    },
  });
} catch (e) {
  if (!(e instanceof InterruptedError)) throw e;
  process.stderr.write(`label-xtb: stopped; ${done.size} results kept in ${partial}; run the same command to go on\n`);
  process.exit(130);
}

const values = new Map<number, Float64Array>();
const failed: string[] = [];
for (const m of todo) {
  const id = gdbId(m.name)!;
  const c = done.get(id)!;
  if (c[1] === 'ok') values.set(id, Float64Array.from(c.slice(2), Number));
  else failed.push(`failed: gdb ${id}: ${c.slice(2).join(',')}`);
}
writeLabels(out, {
  columns: COLUMNS,
  values,
  provenance: [
    `GFN2-xTB single points on the QM9 geometries of EDM's split (train, valid, test) as in ../shared/data/qm9`,
    `program: ${version}; command: xtb mol.xyz ${XTB_ARGS.join(' ')} --chrg 0 --uhf 0 (OMP_NUM_THREADS=1)`,
    `made by scripts/label-xtb.ts on ${new Date().toISOString().slice(0, 10)}`,
    `columns: gap, homo, lumo (eV, xtb's HOMO-LUMO gap and orbital energies); mu (D, total dipole); alpha (bohr^3, xtb's Mol. alpha(0))`,
    `${values.size} molecules labelled, ${failed.length} failed (listed below, not guessed)`,
    ...failed,
  ],
});
rmSync(partial, { force: true });
process.stderr.write(`label-xtb: wrote ${out}: ${values.size} labelled, ${failed.length} failed, ${((Date.now() - t0) / 1000).toFixed(0)} s\n`);
