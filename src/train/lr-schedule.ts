/**
 * Learning rate over a run's optimiser steps: EDM's constant rate, or a linear warm-up then a
 * cosine decay to a final rate (Loshchilov & Hutter 2017, SGDR eq. 5 without restarts), the
 * usual way to turn a noisy plateau into precision at the end of training.
 */
import { OptionError } from '../errors.js';

/**
 * A learning-rate schedule in absolute optimiser steps (a branched run decays over its own
 * steps: `startStep` is where it began). Saved with the recipe, so a resumed run keeps it.
 */
export type LrSchedule =
  | { kind: 'constant' }
  | {
      kind: 'cosine';
      /** step the schedule starts at (0 for a fresh run, the parent's step for a branch) */
      startStep: number;
      /** step the decay reaches `finalLr` (the run's last step) */
      endStep: number;
      /** steps of linear warm-up from 0 to the base rate, counted from `startStep` */
      warmupSteps: number;
      finalLr: number;
    };

/** EDM's schedule. */
export const CONSTANT_LR: LrSchedule = { kind: 'constant' };

/**
 * Check a cosine schedule's numbers.
 * @throws OptionError naming the CLI option that is impossible
 */
export function checkLrSchedule(s: LrSchedule, baseLr: number): LrSchedule {
  if (s.kind === 'constant') return s;
  if (!(s.endStep > s.startStep)) throw new OptionError(`--lr-schedule cosine: the run must end after step ${s.startStep} (--steps ${s.endStep})`);
  if (!Number.isInteger(s.warmupSteps) || s.warmupSteps < 0 || s.warmupSteps >= s.endStep - s.startStep) {
    throw new OptionError(`--warmup-steps ${s.warmupSteps}: must be an integer from 0 to ${s.endStep - s.startStep - 1} (the steps of the schedule)`);
  }
  if (!(s.finalLr >= 0 && s.finalLr <= baseLr)) throw new OptionError(`--final-lr ${s.finalLr}: must be between 0 and --lr ${baseLr}`);
  return s;
}

/**
 * The learning rate of the update that makes step `step + 1` (i.e. after `step` updates).
 * Cosine: lr (k + 1) / W during the W warm-up updates, then
 * finalLr + (lr - finalLr) (1 + cos(pi p)) / 2 with p the fraction of the decay done, and
 * finalLr past `endStep`.
 * @param baseLr the recipe's lr (the peak of a cosine schedule)
 */
export function lrAt(s: LrSchedule, baseLr: number, step: number): number {
  if (s.kind === 'constant') return baseLr;
  const k = Math.max(0, step - s.startStep);
  if (k < s.warmupSteps) return (baseLr * (k + 1)) / s.warmupSteps;
  const p = Math.min(1, Math.max(0, (k - s.warmupSteps) / (s.endStep - s.startStep - s.warmupSteps)));
  return s.finalLr + ((baseLr - s.finalLr) * (1 + Math.cos(Math.PI * p))) / 2;
}

/** The schedule in words, for recipes and titles. */
export function describeLrSchedule(s: LrSchedule | undefined): string {
  if (!s || s.kind === 'constant') return 'constant lr';
  return `cosine lr to ${s.finalLr} over steps ${s.startStep}-${s.endStep}${s.warmupSteps ? `, ${s.warmupSteps} warm-up` : ''}`;
}
