/**
 * The plain-data molecule every reader returns, every writer takes and every metric scores.
 */

/** A bond between atoms i and j (0-based) with order 1, 2, 3 (or 4 for aromatic in SDF terms). */
export interface Bond {
  i: number;
  j: number;
  order: number;
}

/** A molecule: elements and positions, no tensors. */
export interface Molecule {
  /** element symbols, e.g. ['C', 'H', 'H', 'H', 'H'] */
  elements: string[];
  /** `[N * 3]` row-major positions, Å */
  positions: Float32Array;
  /** bonds, if known (inferred by decode/ or read from SDF) */
  bonds?: Bond[];
  /**
   * bonds a bond-aware model generated with the atoms (its z_0 bond orders); kept beside `bonds`,
   * which EDM's protocol infers from distances, and written as the SDF bond block
   */
  modelBonds?: Bond[];
  /** free-form properties (written as SDF data fields) */
  properties?: Record<string, string | number>;
  /** a name or id (XYZ comment, SDF title) */
  name?: string;
}
