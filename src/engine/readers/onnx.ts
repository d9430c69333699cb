// ONNX reader: file -> validated ModelProto -> LayerGraph (see onnx/graph.ts). Weights stay in the file buffer
// (or the external data file) until WeightTensor.load() is called.
import * as fs from 'fs';
import * as path from 'path';
import type { LayerGraph } from '../ir';
import { ModelReadError } from '../errors';
import type { ResolvedReadOptions } from '../options';
import { decodeModel } from './onnx/decode';
import { buildLayerGraph } from './onnx/graph';

/** Reads an ONNX model into the layer graph. Throws ModelReadError for anything unreadable. */
export function readOnnx(file: string, opts: ResolvedReadOptions): LayerGraph {
  const abs = path.resolve(file);
  let bytes: Buffer;
  try {
    const { size } = fs.statSync(abs);
    if (size > opts.maxFileBytes) {
      throw new ModelReadError('too-large', abs, '', `the file is ${size} bytes, over the ${opts.maxFileBytes}-byte limit`);
    }
    bytes = fs.readFileSync(abs);
  } catch (e) {
    if (e instanceof ModelReadError) throw e;
    throw new ModelReadError('invalid-model', abs, '', `cannot read the file (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  // A plain Uint8Array view: protobufjs then slices raw_data without copying and without Buffer deprecation warnings.
  const decoded = decodeModel(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), abs);
  return buildLayerGraph(decoded, abs, opts);
}
