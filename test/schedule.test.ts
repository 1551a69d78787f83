/**
 * Noise schedules: shapes, bounds, monotonicity, and the stable transition forms.
 */
import { describe, expect, it } from 'vitest';
import { NoiseSchedule, alphaOf, cosineSchedule, polynomialSchedule, sigmaOf, snrOf, transition } from '../src/diffusion/schedule.js';

describe('noise schedules', () => {
  for (const name of ['polynomial_2', 'cosine']) {
    it(`${name}: gamma increases from t = 0 to t = T`, () => {
      const s = new NoiseSchedule(1000, name, 1e-5);
      expect(s.gamma).toHaveLength(1001);
      for (let i = 1; i < s.gamma.length; i++) expect(s.gamma[i]).toBeGreaterThan(s.gamma[i - 1]);
    });
  }

  it("polynomial_2 equals EDM's formula where its step clipping does not act: alpha_t^2 = (1 - 2s)(1 - (t/T)^2)^2 + s, gamma = log(sigma^2 / alpha^2)", () => {
    // EDM diffusion_utils.polynomial_schedule, written out independently of schedule.ts; the
    // clipping of alpha_t^2 / alpha_(t-1)^2 to >= 0.001 only acts at t = T for power 2
    const [T, s] = [1000, 1e-5];
    const sched = new NoiseSchedule(T, 'polynomial_2', s);
    for (const t of [0, 1, 100, 500, 900, 999]) {
      const a2 = (1 - 2 * s) * (1 - (t / T) ** 2) ** 2 + s;
      const gamma = Math.log((1 - a2) / a2);
      expect(sched.gamma[t]).toBeCloseTo(gamma, 6);
      expect(alphaOf(sched.gamma[t]) ** 2).toBeCloseTo(a2, 9);
      expect(snrOf(sched.gamma[t])).toBeCloseTo(a2 / (1 - a2), Math.max(0, 6 - Math.ceil(Math.log10(a2 / (1 - a2)))));
    }
    // at t = T the clipped last step leaves alpha_T^2 = 0.001 alpha_(T-1)^2 (before the precision map)
    const aPrev = (1 - ((T - 1) / T) ** 2) ** 2;
    expect(alphaOf(sched.gamma[T]) ** 2).toBeCloseTo((1 - 2 * s) * 0.001 * aPrev + s, 9);
    expect(sigmaOf(sched.gamma[T])).toBeGreaterThan(0.99999);
  });

  it('polynomial_2 with precision 1e-5 spans alpha^2 in [1e-5, 1 - 1e-5]', () => {
    const a = polynomialSchedule(1000, 1e-5, 2);
    expect(a[0]).toBeCloseTo(1 - 1e-5, 12);
    expect(a[1000]).toBeGreaterThanOrEqual(1e-5);
    expect(a[1000]).toBeLessThan(1.1e-5); // the clipped step ratio keeps alpha^2_T a hair above s
  });

  it('cosine starts at alpha^2 near 1 and ends near 0', () => {
    const a = cosineSchedule(1000);
    expect(a[0]).toBeGreaterThan(0.999);
    expect(a[1000]).toBeLessThan(1e-4);
  });

  it('q(z_t | z_s) composes: alpha_t = alpha_t|s alpha_s, sigma_t^2 = alpha_t|s^2 sigma_s^2 + sigma_t|s^2', () => {
    const s = new NoiseSchedule(1000, 'polynomial_2', 1e-5);
    for (const [ts, tt] of [[0, 1], [499, 500], [999, 1000], [200, 700]]) {
      const gS = s.gamma[ts];
      const gT = s.gamma[tt];
      const tr = transition(gT, gS);
      expect(tr.alpha * alphaOf(gS)).toBeCloseTo(alphaOf(gT), 10);
      expect(tr.alpha ** 2 * sigmaOf(gS) ** 2 + tr.sigma2).toBeCloseTo(sigmaOf(gT) ** 2, 10);
    }
  });

  it('rejects an unknown schedule', () => {
    expect(() => new NoiseSchedule(10, 'linear', 1e-5)).toThrow(/unknown noise schedule linear/);
  });
});
