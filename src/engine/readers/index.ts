// Entry point for reading any supported model file into the layer graph: one reader per format behind readModel.
import * as path from 'path';
import type { LayerGraph } from '../ir';
import type { FileAccess } from '../files/fileAccess';
import { resolveReadOptions, type ReadOptions } from '../options';
import { checkModelFile } from './modelFile';
import { readOnnx } from './onnx';
import { readTfjs } from './tfjs';
import { canonicalize } from '../canonical';
import { checkIntegrity } from './integrity';

/**
 * Reads an ONNX file or a TF.js model.json (layers or graph model) into a LayerGraph, with every byte of its weights
 * (shards, external data) read through `files` now: weight values are decoded later, on demand. Throws ModelReadError.
 */
export async function readModel(files: FileAccess, file: string, options: ReadOptions = {}): Promise<LayerGraph> {
  const opts = resolveReadOptions(options);
  const abs = path.resolve(file);
  await checkModelFile(files, abs, opts);
  const graph = abs.toLowerCase().endsWith('.json') ? await readTfjs(files, abs, opts) : await readOnnx(files, abs, opts);
  return checkIntegrity(canonicalize(graph));
}

export { isModelFile, looksLikeTfjsModel } from './detect';
