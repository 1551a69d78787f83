/**
 * A checkpoint with the element model it ships (`<checkpoint>/elements`, config.ts ElementModel).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { loadCheckpoint } from '../checkpoint/format.js';
import { CheckpointError } from '../errors.js';
import { type EdmModel, makeModel } from '../diffusion/model.js';
import { withElementModel } from './attach.js';

/** Sub-folder of a checkpoint that holds its element model. */
export const ELEMENT_MODEL_DIR = 'elements';

/**
 * Load a noise predictor for sampling, with its element model attached (`model.elements`) when
 * the folder ships one. Checkpoints without one load as before.
 * @throws CheckpointError for a missing or corrupt checkpoint, an element model given as the
 *   checkpoint, or an element model that does not fit its noise predictor (other elements,
 *   normalisation or schedule)
 */
export function loadSamplingModel(dir: string): EdmModel {
  const ck = loadCheckpoint(dir);
  if (ck.config.elementModel) throw new CheckpointError(`${dir}: an element model (it types atoms for a noise predictor); sample from the checkpoint that holds it in its ${ELEMENT_MODEL_DIR}/ folder`);
  const model = makeModel(ck.config, ck.params);
  const eDir = join(dir, ELEMENT_MODEL_DIR);
  if (!existsSync(join(eDir, 'config.json'))) return model;
  const e = loadCheckpoint(eDir);
  return withElementModel(model, e.config, e.params, eDir, dir);
}
