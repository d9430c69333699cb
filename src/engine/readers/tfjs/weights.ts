// The TF.js weights manifest: each group's weights are packed back to back in the concatenation of its shards.
// Every weight's byte range is checked against the shard sizes, and the shards are read (through FileAccess) when
// the model is read; values are decoded only when someone asks for them.
import * as path from 'path';
import { ModelReadError } from '../../errors';
import { resolveInsideFolder } from '../../files/containment';
import type { FileAccess } from '../../files/fileAccess';
import { halfToFloat } from '../../float16';
import { sizeOf, type Shape } from '../../ir';
import type { ResolvedReadOptions } from '../../options';
import { isObject } from './json';

/** A weight as the file stores it: TensorFlow layout, read and dequantized on demand. */
export interface StoredWeight {
  name: string;
  shape: Shape;
  /** 'float32', 'int32', 'float16', 'uint8-quantized', ... */
  storage: string;
  /** The shards its bytes are in (absent for values written in model.json). */
  files?: readonly string[];
  read(): Float64Array;
}

export class WeightStore {
  private suffixIndex: Map<string, string[]> | undefined;

  private constructor(
    private readonly byName: ReadonlyMap<string, StoredWeight>,
    /** What the manifest and the shards disagree on without losing a weight (bytes the manifest does not use). */
    readonly warnings: readonly string[] = [],
  ) {}

  static empty(): WeightStore {
    return new WeightStore(new Map());
  }

  /** Validates `weightsManifest` of `modelFile`, reads its shards and locates every weight in them. */
  static async fromManifest(files: FileAccess, modelFile: string, manifest: unknown, opts: ResolvedReadOptions): Promise<WeightStore> {
    if (!Array.isArray(manifest)) throw new ModelReadError('bad-weights', modelFile, 'weightsManifest', 'is not a list of weight groups');
    const folder = path.dirname(modelFile);
    const byName = new Map<string, StoredWeight>();
    const warnings: string[] = [];
    let bytesRead = 0;
    for (const [g, group] of manifest.entries()) {
      const where = `weightsManifest[${g}]`;
      if (!isObject(group) || !Array.isArray(group.paths) || !Array.isArray(group.weights)) {
        throw new ModelReadError('bad-weights', modelFile, where, 'a weight group needs "paths" and "weights" lists');
      }
      const entries = group.weights.map((w, i) => parseEntry(modelFile, w, `${where}.weights[${i}]`, opts));
      const shards: Shard[] = [];
      for (const [i, relative] of group.paths.entries()) shards.push(await locateShard(files, modelFile, folder, relative, `${where}.paths[${i}]`, opts));
      const size = shards.reduce((sum, s) => sum + s.size, 0);
      let offset = 0;
      for (const entry of entries) {
        const end = offset + entry.elements * entry.encoding.bytesPerElement;
        if (end > size) throw shortShards(modelFile, where, shards, entries, entry, end);
        offset = end;
      }
      bytesRead += size;
      if (bytesRead > opts.maxFileBytes) {
        throw new ModelReadError('too-large', modelFile, where, `the weight shards hold more than the ${opts.maxFileBytes}-byte limit`);
      }
      if (size > offset) {
        const last = shards[shards.length - 1];
        warnings.push(
          `${where}: the shards hold ${size} bytes, ${size - offset} more than the manifest's weights use (${last ? `ending with ${path.basename(last.file)}` : 'no shard'})`,
        );
      }
      const data = await readShards(files, shards);
      offset = 0;
      for (const entry of entries) {
        const byteLength = entry.elements * entry.encoding.bytesPerElement;
        if (!byName.has(entry.name)) byName.set(entry.name, storedWeight(entry, data, offset, byteLength, shardsOf(shards, offset, byteLength)));
        offset += byteLength;
      }
    }
    return new WeightStore(byName, warnings);
  }

  get(name: string): StoredWeight | undefined {
    return this.byName.get(name);
  }

  get size(): number {
    return this.byName.size;
  }

  names(): IterableIterator<string> {
    return this.byName.keys();
  }

  /** Names of the weights whose name, a ":N" suffix aside, ends with "/" + `suffix` (index built on first use). */
  withSuffix(suffix: string): readonly string[] {
    if (!this.suffixIndex) {
      this.suffixIndex = new Map();
      for (const name of this.byName.keys()) {
        const bare = name.replace(/:\d+$/, '');
        for (let slash = bare.indexOf('/'); slash >= 0; slash = bare.indexOf('/', slash + 1)) {
          const key = bare.slice(slash + 1);
          const list = this.suffixIndex.get(key);
          if (list) list.push(name);
          else this.suffixIndex.set(key, [name]);
        }
      }
    }
    return this.suffixIndex.get(suffix) ?? [];
  }
}

/**
 * A weight whose values are written in the model file itself (graph-model Const tensors, folded constants).
 * TF may list fewer values than the shape holds and means "repeat the last one": the tensor is filled only when
 * read, so a tiny list under a huge shape allocates nothing while the model is opened.
 */
export function inlineWeight(name: string, shape: Shape, storage: string, values: ArrayLike<number>): StoredWeight {
  const elements = sizeOf(shape);
  return {
    name,
    shape,
    storage,
    read: () => {
      const out = new Float64Array(elements);
      const listed = Math.min(values.length, elements);
      for (let i = 0; i < listed; i++) out[i] = values[i]!;
      if (listed > 0 && listed < elements) out.fill(values[listed - 1]!, listed);
      return out;
    },
  };
}

interface Encoding {
  storage: string;
  bytesPerElement: number;
  decode(bytes: DataView, count: number): Float64Array;
}

interface ManifestEntry {
  name: string;
  shape: Shape;
  elements: number;
  encoding: Encoding;
}

interface Shard {
  /** Real path, inside the model's folder. */
  file: string;
  where: string;
  size: number;
}

/** The concatenation of a group's shards, read now (by real path, not following a link swapped in since). */
async function readShards(files: FileAccess, shards: Shard[]): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for (const shard of shards) {
    const bytes = await files.readRange(shard.file, 0, shard.size, { followLinks: false }).catch((e: unknown) => {
      throw new ModelReadError('missing-weights', shard.file, shard.where, `weight shard cannot be read (${e instanceof Error ? e.message : String(e)})`);
    });
    if (bytes.length !== shard.size) {
      throw new ModelReadError('truncated', shard.file, shard.where, `weight shard shrank while it was read: got ${bytes.length} of ${shard.size} bytes`);
    }
    parts.push(bytes);
  }
  if (parts.length === 1) return parts[0];
  const data = new Uint8Array(parts.reduce((sum, p) => sum + p.length, 0));
  let at = 0;
  for (const part of parts) {
    data.set(part, at);
    at += part.length;
  }
  return data;
}

/** The shards that hold bytes offset..offset+length of their concatenation. */
function shardsOf(shards: Shard[], offset: number, length: number): string[] {
  const out: string[] = [];
  let start = 0;
  for (const shard of shards) {
    const end = start + shard.size;
    if (start < offset + Math.max(length, 1) && end > offset) out.push(shard.file);
    start = end;
  }
  return out;
}

function storedWeight(entry: ManifestEntry, data: Uint8Array, offset: number, byteLength: number, files: string[]): StoredWeight {
  return {
    name: entry.name,
    shape: entry.shape,
    storage: entry.encoding.storage,
    files,
    read: () => entry.encoding.decode(new DataView(data.buffer, data.byteOffset + offset, byteLength), entry.elements),
  };
}

function parseEntry(modelFile: string, raw: unknown, where: string, opts: ResolvedReadOptions): ManifestEntry {
  if (!isObject(raw) || typeof raw.name !== 'string' || !Array.isArray(raw.shape) || typeof raw.dtype !== 'string') {
    throw new ModelReadError('bad-weights', modelFile, where, 'a weight entry needs "name", "shape" and "dtype"');
  }
  const shape = raw.shape;
  if (!shape.every((d): d is number => Number.isSafeInteger(d) && (d as number) >= 0)) {
    throw new ModelReadError('bad-shape', modelFile, where, `weight "${raw.name}" has an invalid shape ${JSON.stringify(shape)}`);
  }
  const elements = shape.reduce((n, d) => n * d, 1);
  if (elements > opts.maxTensorElements) {
    throw new ModelReadError('bad-shape', modelFile, where, `weight "${raw.name}" has ${elements} elements, over the ${opts.maxTensorElements}-element limit`);
  }
  return { name: raw.name, shape, elements, encoding: encodingOf(modelFile, raw.dtype, raw.quantization, where) };
}

function encodingOf(modelFile: string, dtype: string, quantization: unknown, where: string): Encoding {
  if (quantization !== undefined && quantization !== null) {
    if (!isObject(quantization) || typeof quantization.dtype !== 'string') {
      throw new ModelReadError('bad-weights', modelFile, `${where}.quantization`, 'needs a "dtype"');
    }
    const qtype = quantization.dtype;
    if (qtype === 'float16') return { storage: 'float16', bytesPerElement: 2, decode: decodeFloat16 };
    if (qtype !== 'uint8' && qtype !== 'uint16') {
      throw new ModelReadError('bad-weights', modelFile, `${where}.quantization`, `unsupported quantization dtype "${qtype}"`);
    }
    const { scale, min } = quantization;
    if (typeof scale !== 'number' || typeof min !== 'number' || !Number.isFinite(scale) || !Number.isFinite(min)) {
      throw new ModelReadError('bad-weights', modelFile, `${where}.quantization`, 'needs finite "scale" and "min"');
    }
    const roundToInt = (quantization.original_dtype ?? dtype) === 'int32';
    const bytes = qtype === 'uint8' ? 1 : 2;
    return {
      storage: `${qtype}-quantized`,
      bytesPerElement: bytes,
      decode: (view, count) => {
        const out = new Float64Array(count);
        for (let i = 0; i < count; i++) {
          const q = bytes === 1 ? view.getUint8(i) : view.getUint16(2 * i, true);
          out[i] = roundToInt ? Math.round(q * scale + min) : q * scale + min;
        }
        return out;
      },
    };
  }
  switch (dtype) {
    case 'float32':
      return { storage: dtype, bytesPerElement: 4, decode: (view, count) => decodeWith(count, (i) => view.getFloat32(4 * i, true)) };
    case 'int32':
      return { storage: dtype, bytesPerElement: 4, decode: (view, count) => decodeWith(count, (i) => view.getInt32(4 * i, true)) };
    case 'float16':
      return { storage: dtype, bytesPerElement: 2, decode: decodeFloat16 };
    case 'bool':
      return { storage: dtype, bytesPerElement: 1, decode: (view, count) => decodeWith(count, (i) => (view.getUint8(i) ? 1 : 0)) };
    default:
      // string and complex weights: strings have no declared byte size, so nothing after them could be located.
      throw new ModelReadError('bad-weights', modelFile, where, `unsupported weight dtype "${dtype}"`);
  }
}

function decodeWith(count: number, element: (i: number) => number): Float64Array {
  const out = new Float64Array(count);
  for (let i = 0; i < count; i++) out[i] = element(i);
  return out;
}

function decodeFloat16(view: DataView, count: number): Float64Array {
  return decodeWith(count, (i) => halfToFloat(view.getUint16(2 * i, true)));
}

async function locateShard(files: FileAccess, modelFile: string, folder: string, relative: unknown, where: string, opts: ResolvedReadOptions): Promise<Shard> {
  if (typeof relative !== 'string') throw new ModelReadError('bad-weights', modelFile, where, 'shard path is not a string');
  let file: string;
  try {
    file = await resolveInsideFolder(files, folder, relative, modelFile, where);
  } catch (e) {
    // Name the shard that is missing, not the model file that refers to it.
    if (e instanceof ModelReadError && e.code === 'missing-weights') {
      throw new ModelReadError('missing-weights', path.resolve(folder, relative), where, `weight shard "${relative}" is missing`);
    }
    throw e;
  }
  const stat = await files.stat(file);
  if (stat.kind !== 'file') throw new ModelReadError('missing-weights', file, where, `weight shard "${relative}" is not a regular file`);
  if (stat.size > opts.maxFileBytes) {
    throw new ModelReadError('too-large', file, where, `weight shard is ${stat.size} bytes, over the ${opts.maxFileBytes}-byte limit`);
  }
  return { file, where, size: stat.size };
}

function shortShards(
  modelFile: string,
  where: string,
  shards: Shard[],
  entries: ManifestEntry[],
  firstMissing: ManifestEntry,
  neededSoFar: number,
): ModelReadError {
  const needed = entries.reduce((sum, e) => sum + e.elements * e.encoding.bytesPerElement, 0);
  const held = shards.reduce((sum, s) => sum + s.size, 0);
  const last = shards[shards.length - 1];
  const reason = `weight shards hold ${held} bytes but the manifest needs ${needed} bytes; ` + `"${firstMissing.name}" would end at byte ${neededSoFar}`;
  return last
    ? new ModelReadError('truncated', last.file, last.where, reason)
    : new ModelReadError('missing-weights', modelFile, `${where}.paths`, 'the group lists no shard files');
}
