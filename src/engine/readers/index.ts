// Entry point for reading any supported model file into the layer graph.
import * as fs from 'fs';
import * as path from 'path';
import type { LayerGraph } from '../ir';
import { ModelReadError } from '../errors';
import { resolveReadOptions, type ReadOptions } from '../options';
import { readOnnx } from './onnx';
import { readTfjs } from './tfjs';
import { canonicalize } from '../canonical';

/** Reads an ONNX file or a TF.js model.json (layers or graph model) into a LayerGraph. Throws ModelReadError. */
export function readModel(file: string, options: ReadOptions = {}): LayerGraph {
  const opts = resolveReadOptions(options);
  const abs = path.resolve(file);
  let stat: fs.Stats;
  try {
    stat = fs.statSync(abs);
  } catch {
    throw new ModelReadError('invalid-model', abs, '', 'file not found');
  }
  if (!stat.isFile()) throw new ModelReadError('invalid-model', abs, '', 'not a regular file');
  if (stat.size === 0) throw new ModelReadError('empty-file', abs, '', 'the file is empty');
  if (stat.size > opts.maxFileBytes) {
    throw new ModelReadError('too-large', abs, '', `the file is ${stat.size} bytes, over the ${opts.maxFileBytes}-byte limit`);
  }
  const graph = abs.toLowerCase().endsWith('.json') ? readTfjs(abs, opts) : readOnnx(abs, opts);
  return canonicalize(graph);
}

export { isModelFile, looksLikeTfjsModel } from './detect';
