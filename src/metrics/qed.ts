/**
 * QED, the quantitative estimate of drug-likeness (Bickerton et al. 2012, Nat. Chem. 4, 90-98):
 * the weighted geometric mean of eight desirability functions, each an asymmetric double
 * sigmoid d(x) = (a + b / (1 + exp(-(x - c + d/2) / e)) * (1 - 1 / (1 + exp(-(x - c - d/2) / f)))) / dmax
 * with the paper's fitted parameters (supplementary table S3) and mean weights.
 *
 * Properties come from RDKit's descriptors (MinimalLib `get_descriptors`): average molecular
 * weight, Crippen logP, Lipinski-style H-bond acceptors and donors, TPSA, rotatable bonds,
 * aromatic rings. The eighth term, the count of structural alerts, is taken as 0: the alert
 * SMARTS list is not part of RDKit's MinimalLib, so values can be higher than RDKit's QED for
 * molecules with alerts (equal otherwise, up to descriptor definitions).
 */
import { type RDKitModule, rdkitDescriptors } from './rdkit.js';

/** [a, b, c, d, e, f, dmax] per property (Bickerton et al. 2012, table S3). */
const ADS: Record<string, readonly number[]> = {
  MW: [2.817065973, 392.5754953, 290.7489764, 2.419764353, 49.22325677, 65.37051707, 104.9805561],
  ALOGP: [3.172690585, 137.8624751, 2.534937431, 4.581497897, 0.822739154, 0.576295591, 131.3186604],
  HBA: [2.948620388, 160.4605972, 3.615294657, 4.435986202, 0.290141953, 1.300669958, 148.7763046],
  HBD: [1.618662227, 1010.051101, 0.985094388, 0.000000001, 0.713820843, 0.920922555, 258.1632616],
  PSA: [1.876861559, 125.2232657, 62.90773554, 87.83366614, 12.01999824, 28.51324732, 104.5686167],
  ROTB: [0.01, 272.4121427, 2.558379970, 1.565547684, 1.271567166, 2.758063707, 105.4420403],
  AROM: [3.217788970, 957.7374108, 2.274627939, 0.000000001, 1.317690384, 0.375760881, 312.3372610],
  ALERTS: [0.01, 1199.094025, -0.09002883, 0.000000001, 0.185904477, 0.875193782, 417.7253140],
};

/** Mean weights of the weighted QED (QED_w,mo in the paper). */
const WEIGHTS: Record<string, number> = { MW: 0.66, ALOGP: 0.46, HBA: 0.05, HBD: 0.61, PSA: 0.06, ROTB: 0.65, AROM: 0.48, ALERTS: 0.95 };

/** The asymmetric double sigmoid of one property. */
function desirability(x: number, p: readonly number[]): number {
  const [a, b, c, d, e, f, dmax] = p;
  return (a + (b / (1 + Math.exp(-(x - c + d / 2) / e))) * (1 - 1 / (1 + Math.exp(-(x - c - d / 2) / f)))) / dmax;
}

/** The eight QED properties of a molecule. */
export interface QedProperties {
  MW: number;
  ALOGP: number;
  HBA: number;
  HBD: number;
  PSA: number;
  ROTB: number;
  AROM: number;
  ALERTS: number;
}

/** QED from its properties, in (0, 1]. */
export function qedFromProperties(p: QedProperties): number {
  let logSum = 0;
  let wSum = 0;
  for (const [k, w] of Object.entries(WEIGHTS)) {
    logSum += w * Math.log(Math.max(desirability(p[k as keyof QedProperties], ADS[k]), 1e-12));
    wSum += w;
  }
  return Math.exp(logSum / wSum);
}

/**
 * QED of a molecule given as SMILES or a mol block.
 * @returns the score, or null when RDKit cannot parse the input
 */
export function qed(rdkit: RDKitModule, input: string): number | null {
  const d = rdkitDescriptors(rdkit, input);
  if (!d) return null;
  return qedFromProperties({
    MW: d.amw,
    ALOGP: d.CrippenClogP,
    HBA: d.NumHBA,
    HBD: d.NumHBD,
    PSA: d.tpsa,
    ROTB: d.NumRotatableBonds,
    AROM: d.NumAromaticRings,
    ALERTS: 0,
  });
}
