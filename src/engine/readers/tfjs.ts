// TensorFlow.js reader: model.json (a Keras layers model or a TF graph model) and its weight shards → layer graph.
// The parts live in ./tfjs/: JSON with locations, the weights manifest, layout conversion, the IR builder and one
// reader per model kind.
import * as path from 'path';
import { ModelReadError } from '../errors';
import type { FileAccess } from '../files/fileAccess';
import type { LayerGraph } from '../ir';
import type { ResolvedReadOptions } from '../options';
import { readModelText } from './modelFile';
import { readGraphModel } from './tfjs/graphModel';
import { isObject, parseModelJson, type JsonObject } from './tfjs/json';
import { MODEL_CLASSES } from './tfjs/kerasTopology';
import { readLayersModel } from './tfjs/layersModel';
import { WeightStore } from './tfjs/weights';

/** Reads a TF.js model.json. Throws ModelReadError naming the file, the place in it and the reason. */
export async function readTfjs(files: FileAccess, file: string, opts: ResolvedReadOptions): Promise<LayerGraph> {
  const abs = path.resolve(file);
  const doc = parseModelJson(abs, await readModelText(files, abs, opts));
  const root = doc.root;
  if (looksLikeWeightsManifest(root)) {
    throw new ModelReadError('weights-only', abs, '', 'is a weights manifest: it has weights but no topology');
  }
  if (!isObject(root)) throw new ModelReadError('not-a-model', abs, '', 'is JSON but not a TF.js model (expected an object with "modelTopology")');
  const topology = root.modelTopology;
  if (topology === undefined || topology === null) {
    if (root.weightsManifest !== undefined) throw new ModelReadError('weights-only', abs, 'modelTopology', 'has weights but no topology');
    const keras = typeof root.class_name === 'string' && MODEL_CLASSES.has(root.class_name);
    throw new ModelReadError(
      'not-a-model',
      abs,
      '',
      keras ? 'is a bare Keras model config, not a TF.js model.json' : 'is JSON but not a TF.js model (no "modelTopology")',
    );
  }
  if (!isObject(topology)) throw new ModelReadError('not-a-model', abs, 'modelTopology', 'is not an object');
  const graphNodes = Array.isArray(topology.node) ? topology.node : undefined;
  if (!graphNodes && !isKerasTopology(topology)) {
    throw new ModelReadError('not-a-model', abs, 'modelTopology', 'is neither a Keras model config nor a TF graph ("node" list)');
  }
  const hasManifest = root.weightsManifest !== undefined && root.weightsManifest !== null;
  const weights = hasManifest ? await WeightStore.fromManifest(files, abs, root.weightsManifest, opts) : WeightStore.empty();
  const parts = { file: abs, doc, root, topology, weights, hasManifest, opts };
  const graph = graphNodes ? readGraphModel(parts, graphNodes) : readLayersModel(parts);
  return weights.warnings.length ? { ...graph, warnings: [...graph.warnings, ...weights.warnings] } : graph;
}

function isKerasTopology(topology: JsonObject): boolean {
  return isObject(topology.model_config) || typeof topology.class_name === 'string';
}

/** weights_manifest.json: a bare list of {paths, weights} groups. */
function looksLikeWeightsManifest(root: unknown): boolean {
  return Array.isArray(root) && root.length > 0 && root.every((g) => isObject(g) && Array.isArray(g.paths) && Array.isArray(g.weights));
}
