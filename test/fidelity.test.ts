/**
 * Numerical equality with EDM's reference implementation (../shared/reference/edm, float64)
 * through the PyTorch importer. Tolerances from the README there: 1e-4 relative on the
 * schedule, net_out and z_s; 1e-3 relative on the NLL terms.
 */
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend.js';
import { importTorchDir } from '../src/checkpoint/torch-import.js';
import { makeModel, nll, phi, normalizedXh, type EdmModel } from '../src/diffusion/model.js';
import { sampleXhGivenZ0, sampleZsGivenZt } from '../src/diffusion/sampler.js';
import { NoiseSchedule } from '../src/diffusion/schedule.js';
import { deltaLogPx } from '../src/diffusion/normalize.js';
import { graphFromNodeMask, makeGraph } from '../src/graph/graph.js';
import { makeBatch, type Batch } from '../src/data/batch.js';
import { GEOM_PROTOCOL, inferBonds, stability, valenceAllowed } from '../src/decode/bonds.js';
import { Evaluator, type MoleculeOutcome } from '../src/metrics/evaluate.js';
import { propertyConditioning } from '../src/config.js';
import { propertyContext } from '../src/data/properties.js';
import { histogramValue, propertyHistograms } from '../src/properties/conditioning.js';
import type { Molecule } from '../src/data/molecule.js';
import { HAS_SHARED, SHARED, skipWithoutShared, expectClose, flat, loadVectors, tensorOf } from './helpers.js';

const QM9_INFO = { name: 'qm9', atomDecoder: ['H', 'C', 'N', 'O', 'F'], nNodesHistogram: { '29': 1 }, maxNAtoms: 29 };

/** The graph of a reference batch: its node mask's real atoms, and its per-node context when it has one. */
function vectorsGraph(v: Record<string, any>): ReturnType<typeof makeGraph> {
  const [B, N] = [v.node_mask.length, v.node_mask[0].length];
  const mask = flat(v.node_mask).data;
  const nNodes = Int32Array.from({ length: B }, (_, b) => mask.slice(b * N, (b + 1) * N).reduce((s, x) => s + x, 0));
  return makeGraph({ nNodes, N, ...(v.context ? { context: Float32Array.from(flat(v.context).data), contextDim: 1 } : {}) });
}

function moleculesOf(v: Record<string, any>): Molecule[] {
  const decoder = QM9_INFO.atomDecoder;
  return v.x.map((xs: number[][], b: number) => {
    const elements: string[] = [];
    const pos: number[] = [];
    xs.forEach((p, i) => {
      if (v.node_mask[b][i][0] === 1) {
        elements.push(decoder[v.one_hot[b][i].indexOf(1)]);
        pos.push(...p);
      }
    });
    return { elements, positions: Float32Array.from(pos) };
  });
}

describe('fidelity with the EDM reference', () => {
  beforeEach(skipWithoutShared);
  beforeAll(async () => {
    await initBackend('wasm');
  });

  for (const name of ['small', 'edm_qm9']) {
    describe(name, () => {
      let model: EdmModel;
      let v: Record<string, any>;
      let batch: Batch;
      beforeAll(() => {
        if (!HAS_SHARED) return;
        v = loadVectors(name);
        const imported = importTorchDir(join(SHARED, 'reference', 'edm', name), QM9_INFO);
        model = makeModel(imported.config, imported.params);
        batch = makeBatch(moleculesOf(v), QM9_INFO.atomDecoder, 29);
      });

      it('has the reference config', () => {
        expect(model.config.dynamics.nf).toBe(v.config.nf);
        expect(model.config.dynamics.nLayers).toBe(v.config.n_layers);
      });

      it('gamma (polynomial_2, precision 1e-5) matches', () => {
        const s = new NoiseSchedule(1000, 'polynomial_2', 1e-5);
        expectClose(s.gamma, flat(v.gamma_polynomial_2).data, 1e-6, 0, 'gamma');
      });

      it('normalize matches', () => {
        const xh = normalizedXh(model, batch);
        const ref = tf.concat([tensorOf(v.normalize.x), tensorOf(v.normalize.one_hot), tensorOf(v.normalize.charges)], 2);
        expectClose(xh.dataSync(), ref.dataSync(), 1e-6, 0, 'normalize');
        // our log-determinant against EDM's (zero for f_x = 1, as EDM's QM9 models use)
        const ours = deltaLogPx(batch.nNodes, model.config.diffusion.normalizeFactors[0]);
        expectClose(ours, flat(v.normalize.delta_log_px).data, 0, 1e-12, 'delta_log_px');
      });

      it('forward: net_out and l2_error match', () => {
        const zt = tensorOf(v.forward.z_t);
        const t = flat(v.forward.t).data;
        const nodeMask = tensorOf(v.node_mask);
        const out = phi(model, zt, t, graphFromNodeMask(nodeMask));
        expectClose(out.dataSync(), flat(v.forward.net_out).data, 1e-4, 0, 'net_out');
        const err = tf.sum(tf.square(tf.sub(tensorOf(v.forward.eps), out)), [1, 2]).dataSync();
        expectClose(err, flat(v.forward.l2_error).data, 1e-4, 0, 'l2_error');
      });

      it('nll terms match', () => {
        const terms = nll(model, batch, {
          tInt: flat(v.nll.t_int).data,
          epsT: tensorOf(v.nll.eps_t),
          eps0: tensorOf(v.nll.eps_0),
        });
        expectClose(terms.klPrior, flat(v.nll.kl_prior).data, 1e-3, 0, 'kl_prior');
        expectClose(terms.negLogConstants, flat(v.nll.neg_log_constants).data, 1e-3, 0, 'neg_log_constants');
        expectClose(terms.negLogPxh, flat(v.nll.neg_log_pxh).data, 1e-3, 0, 'neg_log_pxh');
      });

      it('reverse step z_s matches', () => {
        const nodeMask = tensorOf(v.node_mask);
        const zs = sampleZsGivenZt(
          model,
          flat(v.reverse_step.s).data,
          flat(v.reverse_step.t).data,
          tensorOf(v.reverse_step.z_t),
          graphFromNodeMask(nodeMask),
          tensorOf(v.reverse_step.noise),
        );
        expectClose(zs.dataSync(), flat(v.reverse_step.z_s).data, 1e-4, 0, 'z_s');
      });

      it('p(x, h | z_0) matches', () => {
        const nodeMask = tensorOf(v.node_mask);
        const out = sampleXhGivenZ0(model, tensorOf(v.p_xh_given_z0.z_0), graphFromNodeMask(nodeMask), tensorOf(v.p_xh_given_z0.noise));
        expectClose(out.x.dataSync(), flat(v.p_xh_given_z0.x).data, 1e-4, 0, 'x');
        expect(Array.from(out.oneHot.dataSync())).toEqual(Array.from(flat(v.p_xh_given_z0.one_hot).data));
        expect(Array.from(out.charges.dataSync(), (c) => c + 0)).toEqual(Array.from(flat(v.p_xh_given_z0.charges).data));
      });
    });
  }

  describe('conditional_alpha (EDM\'s QM9 model conditioned on alpha: context, no charges)', () => {
    let model: EdmModel;
    let v: Record<string, any>;
    let graph: ReturnType<typeof makeGraph>;
    beforeAll(() => {
      if (!HAS_SHARED) return;
      v = loadVectors('conditional_alpha');
      const imported = importTorchDir(join(SHARED, 'reference', 'edm', 'conditional_alpha'), QM9_INFO);
      model = makeModel(imported.config, imported.params);
      graph = vectorsGraph(v);
    });

    it('imports as a property-conditioned config: alpha with its normalisation, no charges, EDM\'s decoding and second-half histogram', () => {
      const c = model.config;
      expect([c.version, c.dynamics.nf, c.dynamics.nLayers, c.dynamics.contextNodeNf]).toEqual([5, 192, 9, 1]);
      expect(c.diffusion).toMatchObject({ includeCharges: false, decodeDropsLastType: true, normalizeFactors: [1, 8, 1] });
      expect(propertyConditioning(c)!.properties.map((p) => [p.name, p.mean, p.mad])).toEqual([['alpha', 75.3734, 6.2728]]);
      expect(c.dataset.nNodesHistogram).toEqual(v.config.n_nodes_histogram);
      // the context is the normalised alpha on every real atom
      expectClose(propertyContext(propertyConditioning(c)!, v.context_normalized_alpha.map((z: number) => 75.3734 + z * 6.2728), graph.nNodes, 29), flat(v.context).data, 1e-6, 1e-7, 'context');
    });

    it('forward with the context: net_out matches', () => {
      const out = phi(model, tensorOf(v.forward.z_t), flat(v.forward.t).data, graph);
      expectClose(out.dataSync(), flat(v.forward.net_out).data, 1e-4, 0, 'net_out');
    });

    it('reverse step with the context: z_s matches', () => {
      const zs = sampleZsGivenZt(model, flat(v.reverse_step.s).data, flat(v.reverse_step.t).data, tensorOf(v.reverse_step.z_t), graph, tensorOf(v.reverse_step.noise));
      expectClose(zs.dataSync(), flat(v.reverse_step.z_s).data, 1e-4, 0, 'z_s');
    });

    it('p(x, h | z_0) keeps EDM\'s quirk: the last type (F) is never decoded', () => {
      const out = sampleXhGivenZ0(model, tensorOf(v.p_xh_given_z0.z_0), graph, tensorOf(v.p_xh_given_z0.noise));
      expectClose(out.x.dataSync(), flat(v.p_xh_given_z0.x).data, 1e-4, 0, 'x');
      expect(Array.from(out.oneHot.dataSync())).toEqual(Array.from(flat(v.p_xh_given_z0.one_hot).data));
      // where a plain argmax would have said F
      expect(v.p_xh_given_z0.atoms_where_last_type_was_argmax).toBeGreaterThan(0);
    });

    it('nll terms with the context match', () => {
      const mols = moleculesOf(v);
      const batch = makeBatch(mols, QM9_INFO.atomDecoder, 29, 0, { values: Float32Array.from(flat(v.context).data), dim: 1 });
      const terms = nll(model, batch, { tInt: flat(v.nll.t_int).data, epsT: tensorOf(v.nll.eps_t), eps0: tensorOf(v.nll.eps_0) });
      expectClose(terms.klPrior, flat(v.nll.kl_prior).data, 1e-3, 0, 'kl_prior');
      expectClose(terms.negLogConstants, flat(v.nll.neg_log_constants).data, 1e-3, 0, 'neg_log_constants');
      expectClose(terms.negLogPxh, flat(v.nll.neg_log_pxh).data, 1e-3, 0, 'neg_log_pxh');
    });

    it('the property histograms bin and draw as EDM\'s DistributionProperty', () => {
      const p = v.prop_dist_synthetic;
      const hist = propertyHistograms(p.num_atoms.map((n: number, i: number) => [n, p.values[i]]), p.num_bins);
      for (const [n, ref] of Object.entries(p.per_n_nodes) as [string, { params: number[]; nonzero_bins: number[]; probs: number[] }][]) {
        const h = hist[n];
        expect([h.min, h.max]).toEqual(ref.params);
        const total = h.counts.reduce((s, x) => s + x, 0);
        const nonzero = h.counts.flatMap((c, k) => (c > 0 ? [k] : []));
        expect(nonzero).toEqual(ref.nonzero_bins);
        expectClose(nonzero.map((k) => h.counts[k] / total), ref.probs, 1e-12, 0, `probs ${n}`);
      }
      for (const r of p.idx2value) expect(histogramValue(hist[String(r.n_nodes)], r.bin, r.u)).toBeCloseTo(r.value, 10);
    });
  });

  describe('geom_drugs (EDM\'s GEOM-Drugs model: 16 atom types, no charges, up to 181 atoms)', () => {
    let model: EdmModel;
    let v: Record<string, any>;
    let graph: ReturnType<typeof makeGraph>;
    let N = 0;
    beforeAll(() => {
      if (!HAS_SHARED) return;
      v = loadVectors('geom_drugs');
      model = makeModel(...(Object.values(importTorchDir(join(SHARED, 'reference', 'edm', 'geom_drugs'), QM9_INFO)) as [EdmModel['config'], EdmModel['params']]));
      N = v.node_mask[0].length;
      graph = vectorsGraph(v);
    });

    it('imports with EDM\'s GEOM atom types, histogram (up to 181 atoms) and decoding', () => {
      const c = model.config;
      expect(c.dataset.atomDecoder).toEqual(v.config.atom_decoder);
      expect(c.dataset.nNodesHistogram).toEqual(v.config.n_nodes_histogram);
      expect(c.dataset.maxNAtoms).toBe(181);
      expect(c.diffusion).toMatchObject({ includeCharges: false, decodeDropsLastType: true });
      expect(c.conditioning).toBeUndefined();
    });

    it('forward: net_out matches', () => {
      const out = phi(model, tensorOf(v.forward.z_t), flat(v.forward.t).data, graph);
      expectClose(out.dataSync(), flat(v.forward.net_out).data, 1e-4, 0, 'net_out');
    });

    it('reverse step z_s matches', () => {
      const zs = sampleZsGivenZt(model, flat(v.reverse_step.s).data, flat(v.reverse_step.t).data, tensorOf(v.reverse_step.z_t), graph, tensorOf(v.reverse_step.noise));
      expectClose(zs.dataSync(), flat(v.reverse_step.z_s).data, 1e-4, 0, 'z_s');
    });

    it('p(x, h | z_0) matches, the last type (Bi) never decoded', () => {
      const out = sampleXhGivenZ0(model, tensorOf(v.p_xh_given_z0.z_0), graph, tensorOf(v.p_xh_given_z0.noise));
      expectClose(out.x.dataSync(), flat(v.p_xh_given_z0.x).data, 1e-4, 0, 'x');
      expect(Array.from(out.oneHot.dataSync())).toEqual(Array.from(flat(v.p_xh_given_z0.one_hot).data));
      expect(v.p_xh_given_z0.atoms_where_last_type_was_argmax).toBeGreaterThan(0);
    });

    it('nll terms match', () => {
      const decoder = model.config.dataset.atomDecoder;
      const mols: Molecule[] = v.x.map((xs: number[][], b: number) => {
        const real = xs.flatMap((p, i) => (v.node_mask[b][i][0] === 1 ? [i] : []));
        return { elements: real.map((i) => decoder[v.one_hot[b][i].indexOf(1)]), positions: Float32Array.from(real.flatMap((i) => xs[i])) };
      });
      const terms = nll(model, makeBatch(mols, decoder, N), { tInt: flat(v.nll.t_int).data, epsT: tensorOf(v.nll.eps_t), eps0: tensorOf(v.nll.eps_0) });
      expectClose(terms.klPrior, flat(v.nll.kl_prior).data, 1e-3, 0, 'kl_prior');
      expectClose(terms.negLogConstants, flat(v.nll.neg_log_constants).data, 1e-3, 0, 'neg_log_constants');
      expectClose(terms.negLogPxh, flat(v.nll.neg_log_pxh).data, 1e-3, 0, 'neg_log_pxh');
    });
  });
});

describe('EDM\'s training error divides by the padded node count (train_loss vectors)', () => {
  beforeEach(skipWithoutShared);
  beforeAll(async () => {
    await initBackend('wasm');
  });

  for (const name of ['conditional_alpha', 'geom_drugs']) {
    it(`${name}: sum (eps - eps_theta(z_t))^2 / ((3 + F) N_padded) as EDM's compute_error`, () => {
      const v = loadVectors(name);
      const { config, params } = importTorchDir(join(SHARED, 'reference', 'edm', name), QM9_INFO);
      const model = makeModel(config, params);
      const [B, N] = [v.x.length, v.x[0].length];
      const D = 3 + v.one_hot[0][0].length;
      const graph = vectorsGraph(v);
      // z_t = alpha_t xh + sigma_t eps on EDM's normalised data, t = t_int / T
      const xh = tf.concat([tensorOf(v.normalize.x), tensorOf(v.normalize.one_hot)], 2);
      const t = flat(v.train_loss.t_int).data.map((k) => k / 1000);
      const g = Array.from(t, (s) => model.schedule.gammaAt(s));
      const eps = tensorOf(v.train_loss.eps);
      const zt = tf.add(tf.mul(xh, tf.tensor(g.map((x) => Math.sqrt(1 / (1 + Math.exp(x)))), [B, 1, 1])), tf.mul(eps, tf.tensor(g.map((x) => Math.sqrt(1 / (1 + Math.exp(-x)))), [B, 1, 1])));
      const out = phi(model, zt, t, graph);
      const error = tf.div(tf.sum(tf.square(tf.sub(eps, out)), [1, 2]), D * N).dataSync();
      expectClose(error, flat(v.train_loss.error).data, 1e-4, 0, 'error');
      expect(D).toBe(model.config.dataset.atomDecoder.length + 3);
    });
  }
});

describe('EDM\'s GEOM-Drugs analysis (geom_drugs/vectors.json geom_bonds)', () => {
  beforeEach(skipWithoutShared);

  it('bonds by sorted type pairs, stability with GEOM\'s valences, validity on single bonds: as EDM\'s analysis', async () => {
    const v = loadVectors('geom_drugs');
    const mols: Molecule[] = v.geom_bonds.map((g: Record<string, any>, b: number) => ({ name: g.name, elements: g.symbols, positions: Float32Array.from(v.x[b].slice(0, g.n_atoms).flat()) }));
    const evaluator = await Evaluator.create({ protocol: GEOM_PROTOCOL });
    const outcomes: MoleculeOutcome[] = [];
    v.geom_bonds.forEach((g: Record<string, any>, b: number) => {
      const bonds = inferBonds(mols[b], GEOM_PROTOCOL);
      expect(bonds.map((x) => [x.i, x.j, x.order]), g.name).toEqual(g.bonds.map((x: number[]) => [x[0], x[1], x[3]]));
      const s = stability(mols[b], bonds);
      expect(s.valences.map((val, i) => valenceAllowed(g.symbols[i], val)), g.name).toEqual(g.atom_stable);
      expect([s.moleculeStable, s.stableAtoms], g.name).toEqual([g.molecule_stable, g.nr_stable_atoms]);
    });
    // the sorted lookup matters: an S written before its C is looked up as (C, S), where the
    // table has a C=S double bond (160 pm), and not as (S, C), where it has none
    const sc: Molecule = { elements: ['S', 'C'], positions: Float32Array.of(0, 0, 0, 1.6, 0, 0) };
    expect([inferBonds(sc)[0].order, inferBonds(sc, GEOM_PROTOCOL)[0].order]).toEqual([1, 2]);
    const withOutcomes = await Evaluator.create({ protocol: GEOM_PROTOCOL, onOutcome: (o) => outcomes.push(o) });
    withOutcomes.add(mols);
    expect(outcomes.map((o) => o.valid)).toEqual(v.geom_bonds.map((g: Record<string, any>) => g.rdkit_valid));
    evaluator.add(mols);
    expect(evaluator.finish().moleculeStability).toBeCloseTo(1 / 3, 10);
  });
});
