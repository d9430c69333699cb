// Turns file bytes into a validated ModelProto, or a ModelReadError that says what the file is instead.
// Protobuf decoding of arbitrary bytes can "succeed" with junk, so the result is checked for ONNX's landmarks.
import { onnx } from 'onnx-proto';
import { ModelReadError } from '../../errors';
import { checkNesting } from './nesting';
import { toNumber } from './protobuf';
import { nodeLabel } from './topology';

/** Newest IR version we might plausibly meet; larger values are junk decoded from a non-ONNX file. */
const MAX_PLAUSIBLE_IR_VERSION = 100;
const OP_TYPE = /^[A-Za-z_][A-Za-z0-9_.]*$/;

export interface DecodedModel {
  model: onnx.ModelProto;
  graph: onnx.IGraphProto;
  /** Default-domain (ai.onnx) opset. */
  opset: number;
}

export function decodeModel(bytes: Uint8Array, file: string): DecodedModel {
  if (bytes.length === 0) throw new ModelReadError('empty-file', file, '', 'the file is empty');
  const foreign = foreignFormat(bytes);
  if (foreign) throw new ModelReadError('not-a-model', file, '', `this is ${foreign}, not an ONNX model`);

  // Before decoding: the generated decoder recurses once per nested message.
  checkNesting(bytes, file);
  let model: onnx.ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (e) {
    throw decodeFailure(bytes, file, e);
  }

  const irVersion = toNumber(model.irVersion);
  if (!Number.isInteger(irVersion) || irVersion <= 0 || irVersion > MAX_PLAUSIBLE_IR_VERSION) throw notOnnx(bytes, file);
  if (irVersion < 3) {
    const reason = `IR version ${irVersion} predates ONNX 1.0; LeakLint reads IR version 3 and newer`;
    throw new ModelReadError('unsupported-version', file, 'ir_version', reason);
  }
  const graph = model.graph;
  if (!graph) throw new ModelReadError('invalid-model', file, '', 'the model has no graph');
  const nodes = graph.node ?? [];
  if (nodes.length === 0) throw new ModelReadError('invalid-model', file, 'graph', 'the graph has no nodes');
  nodes.forEach((node, index) => {
    if (!node.opType || !OP_TYPE.test(node.opType)) {
      throw new ModelReadError('invalid-model', file, nodeLabel(node, index), `"${node.opType ?? ''}" is not an operator name`);
    }
  });

  const defaultOpset = (model.opsetImport ?? []).find((o) => !o.domain || o.domain === 'ai.onnx');
  if (!defaultOpset) {
    throw new ModelReadError('invalid-model', file, 'opset_import', 'the model imports no ai.onnx opset (the file may be truncated)');
  }
  const opset = toNumber(defaultOpset.version);
  if (!Number.isInteger(opset) || opset < 1 || opset > 1000) {
    throw new ModelReadError('unsupported-version', file, 'opset_import', `ai.onnx opset ${opset} is not a valid opset version`);
  }
  return { model, graph, opset };
}

/** Formats people mistake for ONNX, recognised by their leading bytes. */
function foreignFormat(bytes: Uint8Array): string | undefined {
  const ascii = (from: number, to: number) => String.fromCharCode(...bytes.subarray(from, to));
  if (bytes.length >= 8 && ascii(4, 8) === 'TFL3') return 'a TensorFlow Lite model (flatbuffer)';
  if (ascii(0, 4) === 'PK\x03\x04') return 'a ZIP archive (for example a PyTorch checkpoint)';
  if (ascii(0, 8) === '\x89HDF\r\n\x1a\n') return 'an HDF5 file (for example a Keras model)';
  return undefined;
}

/** A file that is mostly printable text in its first bytes (JSON, a README, a Git LFS pointer...). */
function looksLikeText(bytes: Uint8Array): boolean {
  const head = bytes.subarray(0, 512);
  let printable = 0;
  for (const byte of head) if (byte === 9 || byte === 10 || byte === 13 || byte >= 32) printable++;
  return printable === head.length;
}

function notOnnx(bytes: Uint8Array, file: string): ModelReadError {
  if (looksLikeText(bytes)) {
    const start = new TextDecoder().decode(bytes.subarray(0, 40)).split(/\r?\n/)[0];
    return new ModelReadError('not-a-model', file, '', `this is a text file (it starts with "${start}"), not an ONNX model`);
  }
  return new ModelReadError('not-a-model', file, '', 'the bytes are not an ONNX protobuf (no valid ir_version)');
}

/** An ONNX file starts with field 1 (ir_version) as a small varint. */
function startsLikeOnnx(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x08 && bytes[1] >= 3 && bytes[1] <= MAX_PLAUSIBLE_IR_VERSION;
}

function decodeFailure(bytes: Uint8Array, file: string, error: unknown): ModelReadError {
  const message = error instanceof Error ? error.message : String(error);
  // Nesting the pre-scan does not follow (inside tensors, say) can still exhaust the decoder's stack.
  if (error instanceof RangeError && /call stack/i.test(message)) {
    return new ModelReadError('invalid-model', file, '', 'the ONNX protobuf nests messages too deeply to decode');
  }
  const position = /index out of range: (\d+)/.exec(message) ?? /at offset (\d+)/.exec(message);
  const where = position ? `byte ${position[1]}` : '';
  if (startsLikeOnnx(bytes) && /index out of range/.test(message)) {
    return new ModelReadError('truncated', file, where, `the file ends in the middle of a protobuf message (it has ${bytes.length} bytes)`);
  }
  if (looksLikeText(bytes)) return notOnnx(bytes, file);
  if (startsLikeOnnx(bytes)) return new ModelReadError('invalid-model', file, where, `the ONNX protobuf is corrupt (${message})`);
  return new ModelReadError('not-a-model', file, where, 'the bytes are not an ONNX protobuf');
}
