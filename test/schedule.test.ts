/**
 * Noise schedules: shapes, bounds, monotonicity, and the stable transition forms.
 */
import { describe, expect, it } from 'vitest';
import { NoiseSchedule, alphaOf, cosineSchedule, polynomialSchedule, sigmaOf, snrOf, transition } from '../src/diffusion/schedule.js';

describe('noise schedules', () => {
  for (const name of ['polynomial_2', 'cosine']) {
    it(`${name}: gamma increases from t = 0 to t = T, alpha^2 + sigma^2 = 1`, () => {
      const s = new NoiseSchedule(1000, name, 1e-5);
      expect(s.gamma).toHaveLength(1001);
      for (let i = 1; i < s.gamma.length; i++) expect(s.gamma[i]).toBeGreaterThan(s.gamma[i - 1]);
      for (const g of [s.gamma[0], s.gamma[500], s.gamma[1000]]) {
        expect(alphaOf(g) ** 2 + sigmaOf(g) ** 2).toBeCloseTo(1, 12);
        expect(snrOf(g)).toBeCloseTo(alphaOf(g) ** 2 / sigmaOf(g) ** 2, 8);
      }
    });
  }

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
