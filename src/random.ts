/**
 * The one source of randomness: a seeded generator (seedrandom's ARC4) whose state can be saved
 * and restored, so a resumed training run draws exactly the numbers an uninterrupted one would.
 * Never `Math.random`.
 */
import seedrandom from 'seedrandom';

/** Saved generator state (seedrandom ARC4 state plus a cached second Box-Muller normal). */
export interface RngState {
  arc4: object;
  spare: number | null;
}

/** A seeded random generator. */
export class Rng {
  private prng: seedrandom.PRNG;
  private spare: number | null = null;

  /** @param seed any string or number; the same seed gives the same stream */
  constructor(seed: string | number, state?: RngState) {
    const opts = state ? { state: state.arc4 } : { state: true };
    this.prng = seedrandom(String(seed), opts as never) as seedrandom.PRNG;
    if (state) this.spare = state.spare;
  }

  /** Generator state, to restore with `new Rng(seed, state)`. */
  state(): RngState {
    return { arc4: (this.prng as unknown as { state: () => object }).state(), spare: this.spare };
  }

  /** Uniform in [0, 1), 53 bits. */
  uniform(): number {
    return this.prng.double();
  }

  /** Integer uniform in [lo, hi] inclusive. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.prng.double() * (hi - lo + 1));
  }

  /** Standard normal (Box-Muller, both values used). */
  normal(): number {
    if (this.spare !== null) {
      const v = this.spare;
      this.spare = null;
      return v;
    }
    let u = 0;
    while (u === 0) u = this.prng.double();
    const v = this.prng.double();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** Fill a new Float32Array of `n` standard normals. */
  normals(n: number): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = this.normal();
    return out;
  }

  /** Fisher-Yates shuffle in place. */
  shuffle<T>(a: T[]): T[] {
    for (let i = a.length - 1; i > 0; i--) {
      const j = Math.floor(this.prng.double() * (i + 1));
      [a[i], a[j]] = [a[j], a[i]];
    }
    return a;
  }
}
