// ONNX reader: file -> validated ModelProto -> LayerGraph (see onnx/graph.ts). Weights stay in the file's bytes
// (or the bytes read from external data files) until WeightTensor.load() decodes them.
import * as path from 'path';
import type { LayerGraph } from '../ir';
import type { FileAccess } from '../files/fileAccess';
import type { ResolvedReadOptions } from '../options';
import { readModelBytes } from './modelFile';
import { decodeModel } from './onnx/decode';
import { readExternalData } from './onnx/externalData';
import { buildLayerGraph } from './onnx/graph';

/**
 * Reads an ONNX model into the layer graph. Throws ModelReadError for anything unreadable. The file's existence,
 * type and size against maxFileBytes are checked by readModel (readers/index.ts) before this is called.
 */
export async function readOnnx(files: FileAccess, file: string, opts: ResolvedReadOptions): Promise<LayerGraph> {
  const abs = path.resolve(file);
  const bytes = await readModelBytes(files, abs, opts);
  // A plain Uint8Array (not a Buffer): protobufjs then slices raw_data without copying.
  const decoded = decodeModel(bytes, abs);
  const external = opts.externalData === false ? undefined : await readExternalData(files, decoded, abs, opts);
  return buildLayerGraph(decoded, abs, opts, external);
}
