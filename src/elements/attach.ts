/**
 * Attaching an element model to a noise predictor, from parsed checkpoints (no file access: the
 * browser page reads both from bytes).
 */
import type { EdmConfig } from '../config.js';
import { type EdmModel, makeModel } from '../diffusion/model.js';
import type { Params } from '../egnn/params.js';
import { CheckpointError } from '../errors.js';

/**
 * A noise predictor with an element model attached (`model.elements`), from a parsed checkpoint
 * (files or bytes: the browser page reads them from bytes).
 * @param where the element model's folder or URL, and `of` the noise predictor's, for messages
 * @throws CheckpointError for a config that is not an element model, or one that does not fit the
 *   noise predictor (other elements, normalisation or noise schedule)
 */
export function withElementModel(model: EdmModel, c: EdmConfig, params: Params, where: string, of: string): EdmModel {
  if (!c.elementModel) throw new CheckpointError(`${where}: not an element model (its config has no elementModel)`);
  const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);
  const d = model.config.diffusion;
  if (!same(c.dataset.atomDecoder, model.config.dataset.atomDecoder) || !same(c.diffusion.normalizeFactors, d.normalizeFactors) || c.diffusion.includeCharges !== d.includeCharges || c.diffusion.noiseSchedule !== d.noiseSchedule || c.diffusion.noisePrecision !== d.noisePrecision || c.diffusion.timesteps !== d.timesteps) {
    throw new CheckpointError(`${where}: the element model does not fit ${of} (elements, normalisation or noise schedule differ)`);
  }
  return { ...model, elements: makeModel(c, params) };
}
