// ONNX external data, read while the model is read: every tensor of the top-level graph stored in a file next to the
// model is located (inside the model's folder only), and the bytes it needs are read through FileAccess. Decoding
// the values stays lazy (tensors.ts); nothing is opened after the model was read.
import * as path from 'path';
import { onnx } from 'onnx-proto';
import { ModelReadError } from '../../errors';
import { resolveInsideFolder } from '../../files/containment';
import type { FileAccess } from '../../files/fileAccess';
import type { ResolvedReadOptions } from '../../options';
import type { DecodedModel } from './decode';
import { DECODABLE } from './dataTypes';
import { toNumber } from './protobuf';

/** A tensor's external_data entries as written (validated where they are used, in tensors.ts). */
export interface ExternalReference {
  location?: string;
  offset?: string;
  length?: string;
}

export function externalReference(proto: onnx.ITensorProto): ExternalReference {
  const entries = new Map((proto.externalData ?? []).map((e) => [e.key ?? '', e.value ?? '']));
  return { location: entries.get('location'), offset: entries.get('offset'), length: entries.get('length') };
}

/** A byte count as external_data writes it: decimal digits only. */
export function parseByteCount(text: string | undefined): number | undefined {
  if (text === undefined || !/^\d+$/.test(text)) return undefined;
  const value = Number(text);
  return Number.isSafeInteger(value) ? value : undefined;
}

/** Where a data file named by a tensor turned out to be, or why it cannot be used. */
export type ExternalFile = { kind: 'file'; file: string; size: number } | { kind: 'error'; code: 'path-escape' | 'missing-weights'; reason: string };

/** The external data of one model: each named file and the bytes read from it. */
export class ExternalData {
  constructor(
    private readonly files: ReadonlyMap<string, ExternalFile>,
    private readonly spans: ReadonlyMap<string, { offset: number; bytes: Uint8Array }>,
  ) {}

  /** The resolved file a location names (every location of the top-level graph was resolved). */
  file(location: string): ExternalFile | undefined {
    return this.files.get(location);
  }

  /** `length` bytes at `offset` of a resolved file, or undefined when the file ended before them. */
  bytes(file: string, offset: number, length: number): Uint8Array | undefined {
    const span = this.spans.get(file);
    if (!span || offset < span.offset || offset + length > span.offset + span.bytes.length) return undefined;
    return span.bytes.subarray(offset - span.offset, offset - span.offset + length);
  }
}

/**
 * Resolves every external data location of the top-level graph (initializers and the tensors of its nodes'
 * attributes) and reads, per file, the span its tensors need: at most each file once, and no more than
 * `maxFileBytes` in all, whatever the tensors claim.
 */
export async function readExternalData(files: FileAccess, decoded: DecodedModel, modelFile: string, opts: ResolvedReadOptions): Promise<ExternalData> {
  const folder = path.dirname(modelFile);
  const resolved = new Map<string, ExternalFile>();
  const wanted = new Map<string, { from: number; to: number }>();
  for (const proto of externalTensors(decoded.graph)) {
    const reference = externalReference(proto);
    if (reference.location === undefined) continue;
    let target = resolved.get(reference.location);
    if (!target) {
      target = await resolveDataFile(files, folder, reference.location, modelFile);
      resolved.set(reference.location, target);
    }
    const offset = reference.offset === undefined ? 0 : parseByteCount(reference.offset);
    const length = reference.length === undefined ? declaredBytes(proto, opts) : parseByteCount(reference.length);
    if (target.kind !== 'file' || offset === undefined || length === undefined || offset + length > target.size) continue;
    const span = wanted.get(target.file);
    wanted.set(target.file, span ? { from: Math.min(span.from, offset), to: Math.max(span.to, offset + length) } : { from: offset, to: offset + length });
  }
  const total = [...wanted.values()].reduce((sum, s) => sum + (s.to - s.from), 0);
  if (total > opts.maxFileBytes) {
    throw new ModelReadError(
      'too-large',
      modelFile,
      'external data',
      `the external data tensors span ${total} bytes, over the ${opts.maxFileBytes}-byte limit`,
    );
  }
  const spans = new Map<string, { offset: number; bytes: Uint8Array }>();
  for (const [file, { from, to }] of wanted) {
    // A file that shrank or went away since it was resolved leaves a short span: the tensor then says so when built.
    const bytes = await files.readRange(file, from, to - from, { followLinks: false }).catch(() => new Uint8Array(0));
    spans.set(file, { offset: from, bytes });
  }
  return new ExternalData(resolved, spans);
}

async function resolveDataFile(files: FileAccess, folder: string, location: string, modelFile: string): Promise<ExternalFile> {
  try {
    const file = await resolveInsideFolder(files, folder, location, modelFile, '');
    const stat = await files.stat(file);
    if (stat.kind !== 'file') return { kind: 'error', code: 'missing-weights', reason: `external data "${location}" is not a regular file` };
    return { kind: 'file', file, size: stat.size };
  } catch (e) {
    if (e instanceof ModelReadError && (e.code === 'path-escape' || e.code === 'missing-weights')) return { kind: 'error', code: e.code, reason: e.reason };
    return { kind: 'error', code: 'missing-weights', reason: `refers to "${location}", which cannot be read` };
  }
}

/** The externally stored tensors the graph builder will meet: initializers and node attributes of the top level. */
function externalTensors(graph: onnx.IGraphProto): onnx.ITensorProto[] {
  const isExternal = (t: onnx.ITensorProto | null | undefined): t is onnx.ITensorProto => !!t && t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL;
  const out = (graph.initializer ?? []).filter(isExternal);
  for (const node of graph.node ?? []) {
    for (const attribute of node.attribute ?? []) {
      if (isExternal(attribute.t)) out.push(attribute.t);
      out.push(...(attribute.tensors ?? []).filter(isExternal));
    }
  }
  return out;
}

/** Bytes a tensor's dims and type declare, when they are sane (otherwise the builder reports the tensor). */
function declaredBytes(proto: onnx.ITensorProto, opts: ResolvedReadOptions): number | undefined {
  const bytes = DECODABLE[proto.dataType ?? 0]?.bytes;
  if (!bytes) return undefined;
  let count = 1;
  for (const dim of proto.dims ?? []) {
    const d = toNumber(dim);
    if (!Number.isSafeInteger(d) || d < 0) return undefined;
    count *= d;
  }
  return count <= opts.maxTensorElements ? count * bytes : undefined;
}
