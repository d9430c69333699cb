// What both TF.js readers start from, once model.json is parsed and its weights manifest checked.
import type { ResolvedReadOptions } from '../../options';
import type { JsonObject, ModelJson } from './json';
import type { WeightStore } from './weights';

export interface TfjsModelParts {
  /** Absolute path of model.json. */
  file: string;
  doc: ModelJson;
  root: JsonObject;
  /** root.modelTopology */
  topology: JsonObject;
  weights: WeightStore;
  /** False when model.json has no weightsManifest at all (topology only). */
  hasManifest: boolean;
  opts: ResolvedReadOptions;
}
