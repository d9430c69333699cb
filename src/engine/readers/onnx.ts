// ONNX reader: file -> validated ModelProto -> LayerGraph (see onnx/graph.ts). Weights stay in the file buffer
// (or the external data file) until WeightTensor.load() is called.
import * as fs from 'fs';
import * as path from 'path';
import type { LayerGraph } from '../ir';
import { ModelReadError } from '../errors';
import type { ResolvedReadOptions } from '../options';
import { decodeModel } from './onnx/decode';
import { buildLayerGraph } from './onnx/graph';

/**
 * Reads an ONNX model into the layer graph. Throws ModelReadError for anything unreadable. The file's existence,
 * type and size against maxFileBytes are checked by readModel (readers/index.ts) before this is called.
 */
export function readOnnx(file: string, opts: ResolvedReadOptions): LayerGraph {
  const abs = path.resolve(file);
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(abs);
  } catch (e) {
    throw new ModelReadError('invalid-model', abs, '', `cannot read the file (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  // A plain Uint8Array view: protobufjs then slices raw_data without copying and without Buffer deprecation warnings.
  const decoded = decodeModel(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), abs);
  return buildLayerGraph(decoded, abs, opts);
}
