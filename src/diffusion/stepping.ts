/**
 * Sampling that pauses after every denoising step: a generator yields there, and its driver either
 * runs straight through (library calls, worker threads) or gives the event loop a turn at each
 * pause, so that a Ctrl-C handler in the same thread stops a long chain within one step rather
 * than after the whole batch (`edm pocket`, `edm sample --workers 1`).
 */
import { InterruptedError } from '../errors.js';

/** A computation that yields after each denoising step and returns `T`. */
export type Stepped<T> = Generator<void, T, void>;

/** Run a stepped computation to its end in one go. */
export function runStepped<T>(g: Stepped<T>): T {
  for (;;) {
    const r = g.next();
    if (r.done) return r.value;
  }
}

/**
 * Run a stepped computation with the event loop's turn after every step.
 * @param signal checked after each step; an aborted signal ends the generator (its `finally`
 *   blocks free what it holds) and rejects
 * @throws InterruptedError with `what` when `signal` is aborted
 */
export async function runSteppedYielding<T>(g: Stepped<T>, signal: AbortSignal | undefined, what = 'sampling stopped'): Promise<T> {
  try {
    for (;;) {
      if (signal?.aborted) throw new InterruptedError(what);
      const r = g.next();
      if (r.done) return r.value;
      await new Promise((resolve) => setImmediate(resolve));
    }
  } finally {
    // a no-op after the end; on an abort it runs the generator's cleanup
    g.return(undefined as T);
  }
}
