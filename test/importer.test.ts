/**
 * The PyTorch importer fails clearly on damaged files, and never resolves unknown globals.
 */
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { unzipSync, zipSync } from 'fflate';
import { initBackend } from '../src/backend.js';
import { unpickle } from '../src/checkpoint/pickle.js';
import { configFromTorchArgs, importTorchDir, paramsFromStateDict, readTorchArgs, readTorchStateDict } from '../src/checkpoint/torch-import.js';
import { CheckpointError } from '../src/errors.js';
import { SHARED, skipWithoutShared } from './helpers.js';

const INFO = { name: 'qm9', atomDecoder: ['H', 'C', 'N', 'O', 'F'], nNodesHistogram: { '9': 1 }, maxNAtoms: 29 };
const DIR = join(SHARED, 'reference', 'edm', 'small');

describe('pickle allow-list', () => {
  it('says what a path is when it is not an EDM output folder: a DiffSBDD checkpoint (with its widths), another file, a folder without EDM\'s files', (ctx) => {
    skipWithoutShared(ctx);
    const info = INFO;
    const ckpt = join(SHARED, 'reference', 'diffsbdd', 'small', 'small.ckpt');
    expect(() => importTorchDir(ckpt, info)).toThrow(new CheckpointError(`${ckpt}: a DiffSBDD checkpoint (LigandPocketDDPM: dataset crossdock, pocket_conditioning, full-atom pocket, joint_nf 8, hidden_nf 16, 2 layers), whose network (separate ligand and pocket encoders, distance-cut edges, a cross-product coordinate term) edm-ts cannot import yet; edm import-torch reads EDM's output folders (outputs/<run>, holding args.pickle and generative_model_ema.npy)`));
    const empty = mkdtempSync(join(tmpdir(), 'edm-not-edm-'));
    expect(() => importTorchDir(empty, info)).toThrow(/not an EDM output folder \(no args\.pickle and no generative_model_ema\.npy\)/);
    writeFileSync(join(empty, 'args.pickle'), 'x');
    expect(() => importTorchDir(empty, info)).toThrow(/not an EDM output folder \(no generative_model_ema\.npy\)/);
    expect(() => importTorchDir(join(empty, 'args.pickle'), info)).toThrow(/args\.pickle: a file, not a folder/);
  });

  it('refuses a global outside the allow-list, naming it', () => {
    // protocol 2: GLOBAL os.system, arg tuple ('ls',), REDUCE, STOP
    const bytes = Buffer.concat([
      Buffer.from([0x80, 0x02]),
      Buffer.from('cos\nsystem\n', 'latin1'),
      Buffer.from([0x58, 2, 0, 0, 0]),
      Buffer.from('ls', 'latin1'),
      Buffer.from([0x85, 0x52, 0x2e]),
    ]);
    expect(() => unpickle(bytes, 'evil.pkl')).toThrow(CheckpointError);
    expect(() => unpickle(bytes, 'evil.pkl')).toThrow(/os\.system/);
  });

  it('reports a corrupt stream as a CheckpointError', () => {
    expect(() => unpickle(Buffer.from([0x80, 0x02, 0x7d, 0x71]), 'cut.pkl')).toThrow(CheckpointError);
  });
});

describe('importer on damaged files', () => {
  beforeEach(skipWithoutShared);
  let tmp: string;
  beforeAll(async () => {
    await initBackend('wasm');
    tmp = mkdtempSync(join(tmpdir(), 'edm-import-'));
  });

  const config = () => configFromTorchArgs(readTorchArgs(join(DIR, 'args.pickle')), INFO, 'args.pickle');

  it('reads args.pickle into the reference config', () => {
    const c = config();
    expect(c.dynamics).toMatchObject({ nf: 32, nLayers: 2, invSublayers: 1, attention: true, tanh: true, normConstant: 1, normalizationFactor: 1 });
    expect(c.diffusion).toMatchObject({ timesteps: 1000, noiseSchedule: 'polynomial_2', noisePrecision: 1e-5, normalizeFactors: [1, 4, 10], includeCharges: true });
  });

  it('names a missing tensor', () => {
    const sd = readTorchStateDict(join(DIR, 'generative_model_ema.npy'));
    sd.delete('dynamics.egnn.e_block_1.gcl_0.att_mlp.0.bias');
    expect(() => paramsFromStateDict(sd, config(), 'x.npy')).toThrow(/missing tensor dynamics\.egnn\.e_block_1\.gcl_0\.att_mlp\.0\.bias/);
  });

  it('names a renamed (unexpected) tensor', () => {
    const sd = readTorchStateDict(join(DIR, 'generative_model_ema.npy'));
    const v = sd.get('dynamics.egnn.embedding.weight')!;
    sd.delete('dynamics.egnn.embedding.weight');
    sd.set('dynamics.egnn.embeding.weight', v);
    expect(() => paramsFromStateDict(sd, config(), 'x.npy')).toThrow(/unexpected tensor dynamics\.egnn\.embeding\.weight/);
  });

  it('names a tensor with the wrong shape', () => {
    const sd = readTorchStateDict(join(DIR, 'generative_model_ema.npy'));
    const v = sd.get('dynamics.egnn.e_block_0.gcl_0.edge_mlp.2.weight')!;
    sd.set('dynamics.egnn.e_block_0.gcl_0.edge_mlp.2.weight', { data: v.data.slice(0, 32 * 16), shape: [16, 32] });
    expect(() => paramsFromStateDict(sd, config(), 'x.npy')).toThrow(/e_block_0\.gcl_0\.edge_mlp\.2\.weight has shape \[16,32\] but \[32,32\]/);
  });

  it('fails cleanly on a truncated zip', () => {
    const bytes = readFileSync(join(DIR, 'generative_model_ema.npy'));
    const cut = join(tmp, 'truncated.npy');
    writeFileSync(cut, bytes.subarray(0, Math.floor(bytes.length / 2)));
    expect(() => readTorchStateDict(cut)).toThrow(CheckpointError);
    expect(() => readTorchStateDict(cut)).toThrow(/truncated\.npy/);
  });

  it('names a storage missing from the archive', () => {
    const files = unzipSync(readFileSync(join(DIR, 'generative_model_ema.npy')));
    const key = Object.keys(files).find((k) => k.endsWith('/data/7'))!;
    delete files[key];
    const path = join(tmp, 'nostorage.npy');
    writeFileSync(path, zipSync(files));
    expect(() => readTorchStateDict(path)).toThrow(/storage 7 of tensor dynamics\.egnn\.e_block_0\.gcl_0\.edge_mlp\.0\.bias is missing/);
  });

  it('checks a tensor\'s declared shape against its storage before allocating it', () => {
    const files = unzipSync(readFileSync(join(DIR, 'generative_model_ema.npy')));
    const key = Object.keys(files).find((k) => k.endsWith('/data/7'))!;
    files[key] = new Uint8Array(4);
    const path = join(tmp, 'tiny-storage.npy');
    writeFileSync(path, zipSync(files));
    expect(() => readTorchStateDict(path)).toThrow(/tensor dynamics\.egnn\.e_block_0\.gcl_0\.edge_mlp\.0\.bias declares shape \[32\] \(32 elements\), which its storage of 1 elements/);
  });

  it('refuses absurd sizes in args.pickle before building anything (n_layers 1e9 took 108 s, then crashed)', () => {
    const args = readTorchArgs(join(DIR, 'args.pickle'));
    const t0 = performance.now();
    expect(() => configFromTorchArgs({ ...args, n_layers: 1e9 }, INFO, 'args.pickle')).toThrow(/args\.pickle: invalid config: dynamics\.nLayers must be an integer in 1\.\.64/);
    expect(() => configFromTorchArgs({ ...args, nf: 1e7 }, INFO, 'args.pickle')).toThrow(/dynamics\.nf must be an integer in 1\.\.4096/);
    expect(() => configFromTorchArgs({ ...args, diffusion_steps: 1e9 }, INFO, 'args.pickle')).toThrow(/diffusion\.timesteps must be an integer in 1\.\.100000/);
    expect(performance.now() - t0).toBeLessThan(1000);
  });

  it('fails cleanly on a missing file', () => {
    expect(() => readTorchArgs(join(tmp, 'nope.pickle'))).toThrow(/nope\.pickle: cannot read/);
  });
});
