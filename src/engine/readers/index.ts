// Entry point for reading any supported model file into the layer graph.
import * as path from 'path';
import type { LayerGraph } from '../ir';
import { resolveReadOptions, type ReadOptions } from '../options';
import { checkModelFile } from './modelFile';
import { readOnnx } from './onnx';
import { readTfjs } from './tfjs';
import { canonicalize } from '../canonical';

/** Reads an ONNX file or a TF.js model.json (layers or graph model) into a LayerGraph. Throws ModelReadError. */
export function readModel(file: string, options: ReadOptions = {}): LayerGraph {
  const opts = resolveReadOptions(options);
  const abs = path.resolve(file);
  checkModelFile(abs, opts);
  const graph = abs.toLowerCase().endsWith('.json') ? readTfjs(abs, opts) : readOnnx(abs, opts);
  return canonicalize(graph);
}

export { isModelFile, looksLikeTfjsModel } from './detect';
