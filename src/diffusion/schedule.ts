/**
 * Noise schedules as pure functions of the step index, in float64.
 *
 * Reference: EDM en_diffusion.py (polynomial_schedule, clip_noise_schedule,
 * cosine_beta_schedule, PredefinedNoiseSchedule) and the stable forms of
 * EnVariationalDiffusion.sigma_and_alpha_t_given_s. gamma(t) = -log(alpha_t^2 / sigma_t^2),
 * alpha_t^2 = sigmoid(-gamma), sigma_t^2 = sigmoid(gamma), SNR = exp(-gamma)
 * (Kingma et al. 2021, Variational Diffusion Models, eq. 3-4).
 */
import type { DiffusionConfig } from '../config.js';
import { OptionError } from '../errors.js';

/** log(1 + e^x) without overflow. */
export function softplus(x: number): number {
  return x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x));
}

/** log(sigmoid(x)) without overflow. */
export function logSigmoid(x: number): number {
  return -softplus(-x);
}

/**
 * Clip the ratio alpha2_t / alpha2_{t-1} from below for stability near t = T
 * (EDM clip_noise_schedule; Nichol & Dhariwal 2021).
 * @param alphas2 alpha_t^2 for t = 0..T
 * @param clipValue smallest allowed step ratio (EDM: 0.001)
 */
export function clipNoiseSchedule(alphas2: Float64Array, clipValue = 0.001): Float64Array {
  const out = new Float64Array(alphas2.length);
  let prev = 1;
  let acc = 1;
  for (let i = 0; i < alphas2.length; i++) {
    const step = Math.min(1, Math.max(clipValue, alphas2[i] / prev));
    acc *= step;
    out[i] = acc;
    prev = alphas2[i];
  }
  return out;
}

/**
 * alpha_t^2 = (1 - (t/T)^power)^2, clipped, then squeezed into [s, 1 - s]
 * (EDM polynomial_schedule).
 * @returns alpha_t^2 for t = 0..T (length T + 1)
 */
export function polynomialSchedule(timesteps: number, s: number, power: number): Float64Array {
  const steps = timesteps + 1;
  const a = new Float64Array(steps);
  for (let i = 0; i < steps; i++) {
    const x = i / (steps - 1); // np.linspace(0, steps, steps) / steps
    a[i] = (1 - Math.pow(x, power)) ** 2;
  }
  const clipped = clipNoiseSchedule(a, 0.001);
  const precision = 1 - 2 * s;
  for (let i = 0; i < steps; i++) clipped[i] = precision * clipped[i] + s;
  return clipped;
}

/**
 * Cosine schedule (Nichol & Dhariwal 2021, eq. 17; EDM cosine_beta_schedule).
 * @returns alpha_t^2 for t = 0..T (length T + 1)
 */
export function cosineSchedule(timesteps: number, s = 0.008): Float64Array {
  const steps = timesteps + 2;
  const f = new Float64Array(steps);
  for (let i = 0; i < steps; i++) {
    const x = (i * steps) / (steps - 1); // np.linspace(0, steps, steps)
    f[i] = Math.cos((((x / steps) + s) / (1 + s)) * Math.PI * 0.5) ** 2;
  }
  const out = new Float64Array(timesteps + 1);
  let acc = 1;
  for (let i = 1; i < steps; i++) {
    const beta = Math.min(0.999, Math.max(0, 1 - f[i] / f[0] / (f[i - 1] / f[0])));
    acc *= 1 - beta;
    out[i - 1] = acc;
  }
  return out;
}

/** A discrete noise schedule over t_int = 0..T with gamma in float64. */
export class NoiseSchedule {
  /** gamma(t_int / T) for t_int = 0..T */
  readonly gamma: Float64Array;

  /**
   * @throws OptionError for an unknown schedule name
   */
  constructor(readonly timesteps: number, name: string, precision: number) {
    let alphas2: Float64Array;
    if (name === 'cosine') alphas2 = cosineSchedule(timesteps);
    else if (name.startsWith('polynomial_')) {
      const power = Number(name.slice('polynomial_'.length));
      if (!Number.isFinite(power) || power <= 0) throw new OptionError(`unknown noise schedule ${name}`);
      alphas2 = polynomialSchedule(timesteps, precision, power);
    } else throw new OptionError(`unknown noise schedule ${name}`);
    this.gamma = new Float64Array(alphas2.length);
    for (let i = 0; i < alphas2.length; i++) {
      this.gamma[i] = -(Math.log(alphas2[i]) - Math.log(1 - alphas2[i]));
    }
  }

  /** Build from a diffusion config. */
  static fromConfig(cfg: DiffusionConfig): NoiseSchedule {
    return new NoiseSchedule(cfg.timesteps, cfg.noiseSchedule, cfg.noisePrecision);
  }

  /**
   * gamma at continuous time t in [0, 1], rounded to the nearest step as EDM does
   * (PredefinedNoiseSchedule.forward: gamma[round(t * T)]).
   */
  gammaAt(t: number): number {
    return this.gamma[Math.round(t * this.timesteps)];
  }
}

/** alpha_t = sqrt(sigmoid(-gamma)). */
export const alphaOf = (gamma: number): number => Math.sqrt(1 / (1 + Math.exp(gamma)));
/** sigma_t = sqrt(sigmoid(gamma)). */
export const sigmaOf = (gamma: number): number => Math.sqrt(1 / (1 + Math.exp(-gamma)));
/** SNR = alpha_t^2 / sigma_t^2 = exp(-gamma). */
export const snrOf = (gamma: number): number => Math.exp(-gamma);

/**
 * Parameters of q(z_t | z_s) for s < t, in numerically stable form
 * (EDM sigma_and_alpha_t_given_s): sigma2_t|s = -expm1(softplus(gamma_s) - softplus(gamma_t)),
 * alpha_t|s = exp(0.5 (log sigmoid(-gamma_t) - log sigmoid(-gamma_s))).
 */
export function transition(gammaT: number, gammaS: number): { sigma2: number; sigma: number; alpha: number } {
  const sigma2 = -Math.expm1(softplus(gammaS) - softplus(gammaT));
  const alpha = Math.exp(0.5 * (logSigmoid(-gammaT) - logSigmoid(-gammaS)));
  return { sigma2, sigma: Math.sqrt(sigma2), alpha };
}
