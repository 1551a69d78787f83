/**
 * Per-molecule outcomes of a large run, spooled to disk as they are scored, so that the JSON
 * report can list every molecule while the evaluator keeps none of them in memory.
 */
import { openSync, readSync, writeSync } from 'node:fs';
import { AtomicFileWriter, cannotWrite, removeStaleTemps, removeTemp, tempPathBeside } from '../data/files.js';
import type { EvaluationReport, MoleculeOutcome } from '../metrics/evaluate.js';
import { outcomeLine, reportJsonParts } from './table.js';

/** Outcome lines are buffered up to this many characters before a write. */
const FLUSH_CHARS = 1 << 16;

/**
 * Outcomes appended to a temporary file beside the JSON report (`.<name>.<pid>.outcomes.tmp`);
 * `writeJson` writes the report with them, atomically, and removes the spool; `abort` removes it.
 */
export class OutcomeSpool {
  private readonly tmp: string;
  private fd: number | undefined;
  private pending = '';
  /** outcomes spooled so far (the first has no separator before it) */
  private count = 0;

  /**
   * @param jsonPath where the report will be written
   * @throws InputError naming `jsonPath` if its folder cannot be written
   */
  constructor(readonly jsonPath: string) {
    removeStaleTemps(jsonPath);
    this.tmp = tempPathBeside(jsonPath, '.outcomes');
    try {
      // read back by writeJson
      this.fd = openSync(this.tmp, 'w+');
    } catch (e) {
      throw cannotWrite(jsonPath, e);
    }
  }

  /** Spool one outcome (in molecule order). @throws InputError if the disk refuses it */
  add(o: MoleculeOutcome): void {
    this.pending += (this.count++ > 0 ? ',\n' : '') + outcomeLine(o);
    if (this.pending.length >= FLUSH_CHARS) this.flush();
  }

  /** @throws InputError naming the report if the disk refuses the lines (the spool is removed) */
  private flush(): void {
    try {
      if (this.pending) writeSync(this.fd!, this.pending);
    } catch (e) {
      this.abort();
      throw cannotWrite(this.jsonPath, e);
    }
    this.pending = '';
  }

  /**
   * Write the JSON report of `r` with every spooled outcome in place of `r.outcomes` (the same
   * text as `reportJson` of a report holding them all), then remove the spool.
   * @param extra fields put first (e.g. checkpoint, seed)
   * @throws InputError if the report cannot be written (the spool is removed all the same)
   */
  writeJson(r: EvaluationReport, extra: Record<string, unknown> = {}): void {
    this.flush();
    const { head, tail } = reportJsonParts(r, extra);
    const out = new AtomicFileWriter(this.jsonPath);
    try {
      out.write(head);
      // copy the spool in chunks: it can be far larger than what we want in memory
      const chunk = Buffer.alloc(1 << 20);
      let offset = 0;
      for (let n; (n = readSync(this.fd!, chunk, 0, chunk.length, offset)) > 0; offset += n) out.write(chunk.subarray(0, n));
      out.write(tail);
      out.commit();
    } catch (e) {
      out.abort();
      throw e;
    } finally {
      this.abort();
    }
  }

  /** Remove the spool. */
  abort(): void {
    removeTemp(this.fd, this.tmp);
    this.fd = undefined;
  }
}
