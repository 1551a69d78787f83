/**
 * Numerical equality with EDM's reference implementation (../shared/reference/edm, float64)
 * through the PyTorch importer, for each of the four reference models (small, edm_qm9,
 * conditional_alpha, geom_drugs) and each engine (tfjs, ONNX Runtime): the schedule, the
 * normalisation, the network output (with and without a context), the training error, the NLL
 * terms, one reverse step and the decoding of z_0, all to 1e-5 relative in float32 (relative to
 * the largest reference value; measured worst: about 2e-6 on z_s).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend.js';
import { importTorchDir } from '../src/checkpoint/torch-import.js';
import { makeModel, nll, phi, normalizedXh, type EdmModel } from '../src/diffusion/model.js';
import { sampleXhGivenZ0, sampleZsGivenZt } from '../src/diffusion/sampler.js';
import { NoiseSchedule } from '../src/diffusion/schedule.js';
import { deltaLogPx } from '../src/diffusion/normalize.js';
import { makeGraph } from '../src/graph/graph.js';
import { makeBatch } from '../src/data/batch.js';
import { GEOM_PROTOCOL, inferBonds, stability, valenceAllowed } from '../src/decode/bonds.js';
import { Evaluator, type MoleculeOutcome } from '../src/metrics/evaluate.js';
import { propertyConditioning } from '../src/config.js';
import { propertyContext } from '../src/data/properties.js';
import { histogramValue, propertyHistograms } from '../src/properties/conditioning.js';
import { loadOrt, OnnxInference } from '../src/onnx/session.js';
import { OnnxTrainingStep } from '../src/onnx/train-session.js';
import type { Molecule } from '../src/data/molecule.js';
import { HAS_SHARED, SHARED, skipWithoutShared, expectClose, flat, loadVectors, tensorOf } from './helpers.js';

const QM9_INFO = { name: 'qm9', atomDecoder: ['H', 'C', 'N', 'O', 'F'], nNodesHistogram: { '29': 1 }, maxNAtoms: 29 };
const ORT_ABSENT = loadOrt() === undefined;
/** float32 against EDM's float64, relative to the largest reference value */
const RTOL = 1e-5;
/** the reference models made from EDM's own args without a charge channel (and with its train_loss vectors) */
const EDM_NO_CHARGES = ['conditional_alpha', 'geom_drugs'];

/** The graph of a reference batch: its node mask's real atoms, and its per-node context when it has one. */
function vectorsGraph(v: Record<string, any>): ReturnType<typeof makeGraph> {
  const [B, N] = [v.node_mask.length, v.node_mask[0].length];
  const mask = flat(v.node_mask).data;
  const nNodes = Int32Array.from({ length: B }, (_, b) => mask.slice(b * N, (b + 1) * N).reduce((s, x) => s + x, 0));
  return makeGraph({ nNodes, N, ...(v.context ? { context: Float32Array.from(flat(v.context).data), contextDim: 1 } : {}) });
}

/** The reference batch's molecules: the real atoms, each element from its one-hot row. */
function moleculesOf(v: Record<string, any>, decoder: string[]): Molecule[] {
  return v.x.map((xs: number[][], b: number) => {
    const real = xs.flatMap((_, i) => (v.node_mask[b][i][0] === 1 ? [i] : []));
    return { elements: real.map((i) => decoder[v.one_hot[b][i].indexOf(1)]), positions: Float32Array.from(real.flatMap((i) => xs[i])) };
  });
}

/** Each reference folder imported once (both engines and the importer's checks read it). */
const imported = new Map<string, ReturnType<typeof importTorchDir>>();
function importReference(name: string): ReturnType<typeof importTorchDir> {
  let got = imported.get(name);
  if (!got) imported.set(name, (got = importTorchDir(join(SHARED, 'reference', 'edm', name), QM9_INFO)));
  return got;
}

/** The reference model in one engine: tfjs, or the same weights with ONNX Runtime running the network. */
function referenceModel(name: string, engine: 'tfjs' | 'onnx'): EdmModel {
  const { config, params } = importReference(name);
  const model = makeModel(config, params);
  return engine === 'onnx' ? { ...model, inference: new OnnxInference(config, params, 1) } : model;
}

describe('fidelity with the EDM reference', () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });

  for (const name of ['small', 'edm_qm9', 'conditional_alpha', 'geom_drugs']) {
    for (const engine of ['tfjs', 'onnx'] as const) {
      describe(`${name} (${engine})`, () => {
        let model: EdmModel;
        let v: Record<string, any>;
        let graph: ReturnType<typeof makeGraph>;
        beforeEach((ctx) => {
          skipWithoutShared(ctx);
          ctx.skip(engine === 'onnx' && ORT_ABSENT, 'onnxruntime-node is not installed (an optional dependency)');
        });
        beforeAll(() => {
          if (!HAS_SHARED || (engine === 'onnx' && ORT_ABSENT)) return;
          v = loadVectors(name);
          model = referenceModel(name, engine);
          graph = vectorsGraph(v);
        });
        afterAll(() => {
          (model?.inference as OnnxInference | undefined)?.close();
        });

        it('gamma (polynomial_2, precision 1e-5) and the normalisation match', () => {
          const s = new NoiseSchedule(1000, 'polynomial_2', 1e-5);
          expectClose(s.gamma, flat(v.gamma_polynomial_2).data, 1e-6, 0, 'gamma');
          const decoder = model.config.dataset.atomDecoder;
          const batch = makeBatch(moleculesOf(v, decoder), decoder, v.node_mask[0].length);
          const parts = [tensorOf(v.normalize.x), tensorOf(v.normalize.one_hot)];
          if (model.config.diffusion.includeCharges) parts.push(tensorOf(v.normalize.charges));
          expectClose(normalizedXh(model, batch).dataSync(), tf.concat(parts, 2).dataSync(), 1e-6, 0, 'normalize');
          // our log-determinant against EDM's (zero for f_x = 1, as EDM's models use)
          expectClose(deltaLogPx(batch.nNodes, model.config.diffusion.normalizeFactors[0]), flat(v.normalize.delta_log_px).data, 0, 1e-12, 'delta_log_px');
        });

        it(`forward${name === 'conditional_alpha' ? ' with the context' : ''}: net_out and l2_error match`, () => {
          const out = phi(model, tensorOf(v.forward.z_t), flat(v.forward.t).data, graph, true);
          expectClose(out.dataSync(), flat(v.forward.net_out).data, RTOL, 0, 'net_out');
          const err = tf.sum(tf.square(tf.sub(tensorOf(v.forward.eps), out)), [1, 2]).dataSync();
          expectClose(err, flat(v.forward.l2_error).data, RTOL, 0, 'l2_error');
        });

        it('nll terms match', () => {
          const decoder = model.config.dataset.atomDecoder;
          const context = v.context ? { values: Float32Array.from(flat(v.context).data), dim: 1 } : undefined;
          const batch = makeBatch(moleculesOf(v, decoder), decoder, v.node_mask[0].length, 0, context);
          const terms = nll(model, batch, { tInt: flat(v.nll.t_int).data, epsT: tensorOf(v.nll.eps_t), eps0: tensorOf(v.nll.eps_0) });
          // kl_prior (about 1e-3 nats) only to 2e-5: EDM's own value is that far from its formula
          // in float64 (its gamma table stays float32); on geom_drugs's third molecule the formula
          // on the reference's own normalised inputs gives 0.00254350930 against its 0.00254348289
          expectClose(terms.klPrior, flat(v.nll.kl_prior).data, 2e-5, 0, 'kl_prior');
          expectClose(terms.negLogConstants, flat(v.nll.neg_log_constants).data, RTOL, 0, 'neg_log_constants');
          expectClose(terms.negLogPxh, flat(v.nll.neg_log_pxh).data, RTOL, 0, 'neg_log_pxh');
        });

        it('reverse step z_s matches', () => {
          const zs = sampleZsGivenZt(model, flat(v.reverse_step.s).data, flat(v.reverse_step.t).data, tensorOf(v.reverse_step.z_t), graph, tensorOf(v.reverse_step.noise));
          expectClose(zs.dataSync(), flat(v.reverse_step.z_s).data, RTOL, 0, 'z_s');
        });

        it(`p(x, h | z_0) matches${EDM_NO_CHARGES.includes(name) ? ', the last type never decoded (EDM\'s quirk)' : ''}`, () => {
          const out = sampleXhGivenZ0(model, tensorOf(v.p_xh_given_z0.z_0), graph, tensorOf(v.p_xh_given_z0.noise));
          expectClose(out.x.dataSync(), flat(v.p_xh_given_z0.x).data, RTOL, 0, 'x');
          expect(Array.from(out.oneHot.dataSync())).toEqual(Array.from(flat(v.p_xh_given_z0.one_hot).data));
          if (model.config.diffusion.includeCharges) expect(Array.from(out.charges.dataSync(), (c) => c + 0)).toEqual(Array.from(flat(v.p_xh_given_z0.charges).data));
          // the models without charges: the decoding never says the last type, where a plain argmax would have
          else expect(v.p_xh_given_z0.atoms_where_last_type_was_argmax).toBeGreaterThan(0);
        });

        if (EDM_NO_CHARGES.includes(name)) {
          it('the training error divides by the padded node count: sum (eps - eps_theta(z_t))^2 / ((3 + F) N_padded) as EDM\'s compute_error', () => {
            const [B, N] = [v.x.length, v.x[0].length];
            const D = 3 + v.one_hot[0][0].length;
            expect(D).toBe(model.config.dataset.atomDecoder.length + 3);
            // z_t = alpha_t xh + sigma_t eps on EDM's normalised data, t = t_int / T
            const xh = tf.concat([tensorOf(v.normalize.x), tensorOf(v.normalize.one_hot)], 2);
            const t = flat(v.train_loss.t_int).data.map((k) => k / 1000);
            const g = Array.from(t, (s) => model.schedule.gammaAt(s));
            const eps = tensorOf(v.train_loss.eps);
            const zt = tf.add(tf.mul(xh, tf.tensor(g.map((x) => Math.sqrt(1 / (1 + Math.exp(x)))), [B, 1, 1])), tf.mul(eps, tf.tensor(g.map((x) => Math.sqrt(1 / (1 + Math.exp(-x)))), [B, 1, 1])));
            const expected = flat(v.train_loss.error).data;
            if (engine === 'tfjs') {
              const error = tf.div(tf.sum(tf.square(tf.sub(eps, phi(model, zt, t, graph))), [1, 2]), D * N).dataSync();
              expectClose(error, expected, RTOL, 0, 'error');
              return;
            }
            // ONNX Runtime's training graph: loss = 0.5 sum(loss_weight (eps - eps_theta)^2); a
            // weight of 2 / (D N_padded) on one molecule at a time gives that molecule's error
            const step = OnnxTrainingStep.create(model.config, { threads: 1, centred: graph.centred });
            try {
              const weights = Object.fromEntries(Object.entries(model.params).map(([k, p]) => [k, p.dataSync() as Float32Array]));
              const input = { xh: zt.dataSync() as Float32Array, t: Float32Array.from(t), B, N, context: v.context ? Float32Array.from(flat(v.context).data) : undefined, nodeMask: graph.nodeMask.dataSync() as Float32Array, edgeMask: graph.edgeMask.dataSync() as Float32Array, denoiseMask: graph.denoiseMask.dataSync() as Float32Array, eps: eps.dataSync() as Float32Array };
              const error = Array.from({ length: B }, (_, b) => step.run(weights, { ...input, lossWeight: Float32Array.from({ length: B * D }, (_, i) => (Math.floor(i / D) === b ? 2 / (D * N) : 0)) }).loss);
              expectClose(error, expected, RTOL, 0, 'error (ONNX training graph)');
            } finally {
              step.close();
            }
          });
        }
      });
    }
  }

  describe('what the importer reads from EDM\'s args', () => {
    beforeEach(skipWithoutShared);

    it('conditional_alpha: a property-conditioned config (alpha with its normalisation, no charges, EDM\'s decoding, the second-half histogram); the context is the normalised alpha on every atom', () => {
      const v = loadVectors('conditional_alpha');
      const c = importReference('conditional_alpha').config;
      expect([c.version, c.dynamics.nf, c.dynamics.nLayers, c.dynamics.contextNodeNf]).toEqual([5, 192, 9, 1]);
      expect(c.diffusion).toMatchObject({ includeCharges: false, decodeDropsLastType: true, normalizeFactors: [1, 8, 1] });
      expect(propertyConditioning(c)!.properties.map((p) => [p.name, p.mean, p.mad])).toEqual([['alpha', 75.3734, 6.2728]]);
      expect(c.dataset.nNodesHistogram).toEqual(v.config.n_nodes_histogram);
      expectClose(propertyContext(propertyConditioning(c)!, v.context_normalized_alpha.map((z: number) => 75.3734 + z * 6.2728), vectorsGraph(v).nNodes, 29), flat(v.context).data, 1e-6, 1e-7, 'context');
    });

    it('conditional_alpha: the property histograms bin and draw as EDM\'s DistributionProperty', () => {
      const p = loadVectors('conditional_alpha').prop_dist_synthetic;
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

    it('geom_drugs: EDM\'s GEOM atom types, histogram (up to 181 atoms) and decoding', () => {
      const v = loadVectors('geom_drugs');
      const c = importReference('geom_drugs').config;
      expect(c.dataset.atomDecoder).toEqual(v.config.atom_decoder);
      expect(c.dataset.nNodesHistogram).toEqual(v.config.n_nodes_histogram);
      expect(c.dataset.maxNAtoms).toBe(181);
      expect(c.diffusion).toMatchObject({ includeCharges: false, decodeDropsLastType: true });
      expect(c.conditioning).toBeUndefined();
    });
  });
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
