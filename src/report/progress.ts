/**
 * Progress of long commands on stderr: a live bar on a terminal (cli-progress), and without one
 * (piped, logged, CI) a plain line every few seconds, which is what a log reader expects.
 */
import cliProgress from 'cli-progress';

/** Values shown beside the count (e.g. loss, molecules/s). */
export type ProgressPayload = Record<string, string | number>;

/** A progress display. */
export interface Progress {
  /** @param value work done, in the unit of `total` */
  update(value: number, payload?: ProgressPayload): void;
  /** Write the last line (no terminal) or close the bar. */
  stop(): void;
}

/** Options of `startProgress`. */
export interface ProgressOptions {
  total: number;
  /** cli-progress format of the bar (terminal) */
  barFormat: string;
  /** the plain line written without a terminal */
  line: (value: number, total: number, payload: ProgressPayload) => string;
  /** seconds between plain lines (default 5) */
  everySeconds?: number;
  /** default: process.stderr; a bar is drawn only when it is a terminal */
  stream?: NodeJS.WritableStream & { isTTY?: boolean };
  initialPayload?: ProgressPayload;
}

/** Start a progress display (bar on a terminal, else a line every few seconds). */
export function startProgress(o: ProgressOptions): Progress {
  const stream = o.stream ?? process.stderr;
  if (stream.isTTY) {
    const bar = new cliProgress.SingleBar({ format: o.barFormat, etaBuffer: 200, stream: stream as NodeJS.WritableStream }, cliProgress.Presets.shades_classic);
    bar.start(o.total, 0, o.initialPayload ?? {});
    return { update: (v, p) => bar.update(v, p ?? {}), stop: () => bar.stop() };
  }
  const every = (o.everySeconds ?? 5) * 1000;
  let last = performance.now();
  let value = 0;
  let payload: ProgressPayload = o.initialPayload ?? {};
  let stopped = false;
  return {
    update(v, p) {
      value = v;
      if (p) payload = p;
      const now = performance.now();
      if (now - last >= every) {
        last = now;
        stream.write(o.line(value, o.total, payload) + '\n');
      }
    },
    stop() {
      if (stopped) return;
      stopped = true;
      stream.write(o.line(value, o.total, payload) + '\n');
    },
  };
}
