// Mutations of the bundled fixture models for the fuzz test: byte flips, insertions and truncations, and
// structure-aware edits of the ONNX protobuf and the TF.js model.json (extreme attributes and shapes, path escapes in
// shard and external-data references, broken graphs, hostile names), all drawn from one seeded generator.
import * as fs from 'fs';
import * as path from 'path';
import { onnx } from 'onnx-proto';
import { mulberry32, seedFromName, type UniformSource } from '../../scripts/fixtures/prng';
import { FORGED_LINE, HOSTILE_NAMES } from './hostile-names';

export interface Base {
  name: string;
  format: 'onnx' | 'tfjs';
  /** The file the CLI is given. */
  entry: string;
  /** Every file of the model by its name in the model's folder (the entry, shards, external data). */
  files: Map<string, Uint8Array>;
}

export interface Case {
  id: string;
  base: string;
  mutation: string;
  /** The case's folder name: usually its id, sometimes a hostile name (paths are printed too). */
  folder: string;
  entry: string;
  files: Map<string, Uint8Array>;
}

/** Fixture models (relative to test/fixtures/generated), small enough to audit a few hundred times. */
const BASES: { name: string; entry: string }[] = [
  { name: 'cnn2_c0', entry: 'cnn2_c0/model.onnx' },
  { name: 'bn-maxpool-residual', entry: 'bn-maxpool-residual/model.onnx' },
  { name: 'external-data', entry: 'bn-maxpool-residual/model-external-data.onnx' },
  { name: 'constant-nodes', entry: 'lenet-sigmoid/model-constant-nodes.onnx' },
  { name: 'tfjs-layers', entry: 'lenet-sigmoid/tfjs/model.json' },
  { name: 'tfjs-layers-residual', entry: 'bn-maxpool-residual/tfjs/model.json' },
  { name: 'tfjs-graph', entry: 'lenet-sigmoid/tfjs-graph/model.json' },
  { name: 'tfjs-quantized', entry: 'cnn6/tfjs-quantized/model.json' },
  { name: 'tfjs-layers-mlp', entry: 'mlp/tfjs/model.json' },
];

export function loadBases(generated: string): Base[] {
  return BASES.map(({ name, entry }) => {
    const entryFile = path.join(generated, entry);
    // Plain Uint8Array copies: a Buffer's slice() is a view, and a mutation must never reach the base.
    const read = (file: string) => new Uint8Array(fs.readFileSync(file));
    const files = new Map<string, Uint8Array>([[path.basename(entry), read(entryFile)]]);
    const format = entry.endsWith('.onnx') ? 'onnx' : 'tfjs';
    for (const data of dataFiles(entryFile, format)) files.set(data, read(path.join(path.dirname(entryFile), data)));
    return { name, format, entry: path.basename(entry), files };
  });
}

/** The shards a model.json names, or the external data files an ONNX model names. */
function dataFiles(entryFile: string, format: Base['format']): string[] {
  if (format === 'tfjs') {
    const manifest = JSON.parse(fs.readFileSync(entryFile, 'utf8')).weightsManifest as { paths: string[] }[];
    return manifest.flatMap((group) => group.paths);
  }
  const model = onnx.ModelProto.decode(fs.readFileSync(entryFile));
  const locations = (model.graph?.initializer ?? []).flatMap((t) => (t.externalData ?? []).filter((e) => e.key === 'location').map((e) => e.value!));
  return [...new Set(locations)];
}

type Random = UniformSource;
const below = (random: Random, n: number): number => Math.floor(random() * n);
const pick = <T>(random: Random, values: readonly T[]): T => values[below(random, values.length)];

const EXTREME_INTS = [0, -1, 1, 7, 65535, 2 ** 31 - 1, -(2 ** 31), 1e9, 2 ** 53 - 1];
const PATH_ESCAPES = [
  '../../../../etc/passwd',
  '/etc/passwd',
  '..\\..\\..\\windows\\win.ini',
  'sub/../../outside.bin',
  '%2e%2e/%2e%2e/etc/passwd',
  'file:///etc/passwd',
  'http://127.0.0.1:9/shard.bin',
  'shard\u0000.bin',
  '',
  '.',
  'a'.repeat(5000),
  '\u202e../x.bin',
  '~/.ssh/id_rsa',
];
const OP_TYPES = ['If', 'Loop', 'Scan', 'NoSuchOp', 'Conv', 'Gemm', 'MaxPool', 'Reshape', 'Concat', ''];

type Files = Map<string, Uint8Array>;
type Mutation = (random: Random, files: Files, base: Base) => string | undefined;

/** Byte-level mutations, on the entry or one of its data files. */
const BYTE_MUTATIONS: Record<string, Mutation> = {
  'flip-bits': (random, files) => {
    const [name, bytes] = pickFile(random, files);
    const copy = bytes.slice();
    const flips = 1 + below(random, 16);
    for (let i = 0; i < flips && copy.length > 0; i++) copy[below(random, copy.length)] ^= 1 << below(random, 8);
    files.set(name, copy);
    return `${flips} bit(s) of ${name}`;
  },
  truncate: (random, files) => {
    const [name, bytes] = pickFile(random, files);
    const length = below(random, bytes.length);
    files.set(name, bytes.slice(0, length));
    return `${name} cut to ${length} of ${bytes.length} bytes`;
  },
  'insert-bytes': (random, files) => {
    const [name, bytes] = pickFile(random, files);
    const at = below(random, bytes.length + 1);
    const inserted = Uint8Array.from({ length: 1 + below(random, 64) }, () => below(random, 256));
    files.set(name, concat(bytes.slice(0, at), inserted, bytes.slice(at)));
    return `${inserted.length} byte(s) into ${name} at ${at}`;
  },
};

/** Edits of the ONNX protobuf that keep it decodable. */
const ONNX_MUTATIONS: Record<string, Mutation> = {
  'attribute-extreme': onnxEdit((random, model) => {
    const nodes = model.graph!.node!.filter((n) => (n.attribute ?? []).length > 0);
    if (!nodes.length) return undefined;
    const attribute = pick(random, pick(random, nodes).attribute!);
    const value = pick(random, EXTREME_INTS);
    if (attribute.ints?.length) attribute.ints = attribute.ints.map(() => value);
    else attribute.i = value;
    return `${attribute.name} = ${value}`;
  }),
  'initializer-dims': onnxEdit((random, model) => {
    const tensors = model.graph!.initializer!;
    if (!tensors.length) return undefined;
    const tensor = pick(random, tensors);
    const value = pick(random, EXTREME_INTS);
    if (tensor.dims!.length) tensor.dims![below(random, tensor.dims!.length)] = value;
    return `${tensor.name} dim = ${value}`;
  }),
  'drop-initializer': onnxEdit((random, model) => {
    const tensors = model.graph!.initializer!;
    if (!tensors.length) return undefined;
    return `without ${tensors.splice(below(random, tensors.length), 1)[0].name}`;
  }),
  'op-type': onnxEdit((random, model) => {
    if (!model.graph!.node!.length) return undefined;
    const node = pick(random, model.graph!.node!);
    node.opType = pick(random, OP_TYPES);
    return `${node.name} is ${node.opType || '(empty)'}`;
  }),
  cycle: onnxEdit((_random, model) => {
    const nodes = model.graph!.node!;
    if (!nodes.length || !nodes[0].input?.length) return undefined;
    nodes[0].input![0] = nodes[nodes.length - 1].output![0];
    return 'the first node reads the last output';
  }),
  'external-data-escape': onnxEdit((random, model) => {
    if (!model.graph!.initializer!.length) return undefined;
    const tensor = pick(random, model.graph!.initializer!);
    const location = pick(random, PATH_ESCAPES);
    tensor.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
    tensor.rawData = new Uint8Array(0);
    tensor.externalData = [
      { key: 'location', value: location },
      { key: 'offset', value: pick(random, ['0', '-1', '99999999999', 'x']) },
      { key: 'length', value: pick(random, ['4', '0', '-5', '9007199254740993']) },
    ];
    return `${tensor.name} in ${JSON.stringify(location.slice(0, 40))}`;
  }),
  'input-dims': onnxEdit((random, model) => {
    const shape = model.graph!.input![0].type?.tensorType?.shape;
    if (!shape?.dim?.length) return undefined;
    const dim = shape.dim[below(random, shape.dim.length)];
    const choice = pick(random, [0, -5, 2 ** 40, 'H', undefined] as const);
    if (typeof choice === 'number') Object.assign(dim, { dimValue: choice, dimParam: undefined });
    else Object.assign(dim, { dimValue: undefined, dimParam: choice });
    return `input dim = ${String(choice)}`;
  }),
  versions: onnxEdit((random, model) => {
    model.opsetImport = [{ domain: pick(random, ['', 'ai.onnx', 'com.evil']), version: pick(random, [0, 1, 7, 999, -1]) }];
    model.irVersion = pick(random, [0, 3, 99]);
    return `opset ${model.opsetImport[0].domain}:${model.opsetImport[0].version}, IR ${model.irVersion}`;
  }),
  'hostile-names': onnxEdit((random, model) => {
    const graph = model.graph!;
    const input = graph.input![0].name!;
    const renamed = pick(random, [FORGED_LINE, ...HOSTILE_NAMES]);
    graph.input![0].name = renamed;
    for (const n of graph.node!) {
      n.input = n.input!.map((name) => (name === input ? renamed : name));
      n.name = `${pick(random, HOSTILE_NAMES)}${n.name}`;
    }
    return 'hostile input and node names';
  }),
};

/** Edits of model.json that keep it JSON (a few, like deep nesting, only just). */
const TFJS_MUTATIONS: Record<string, Mutation> = {
  'manifest-path-escape': jsonEdit((random, json) => {
    const group = pick(random, json.weightsManifest as { paths: string[] }[]);
    const escape = pick(random, PATH_ESCAPES);
    group.paths[below(random, group.paths.length)] = escape;
    return `shard path ${JSON.stringify(escape.slice(0, 40))}`;
  }),
  'weight-shape': jsonEdit((random, json) => {
    const weight = pickWeight(random, json);
    const value = pick(random, [...EXTREME_INTS, 1.5]);
    if (weight.shape.length && random() < 0.8) weight.shape[below(random, weight.shape.length)] = value;
    else weight.shape.push(value);
    return `${weight.name} shape ${JSON.stringify(weight.shape)}`;
  }),
  dtype: jsonEdit((random, json) => {
    const weight = pickWeight(random, json);
    weight.dtype = pick(random, ['complex64', 'string', 'int64', 'bool', 'float16', 'nope']);
    if (weight.quantization && random() < 0.5)
      weight.quantization = { dtype: pick(random, ['uint3', 'float16', 'int8']), scale: pick(random, [-1, 0, 1e308, 'x']) };
    return `${weight.name} dtype ${weight.dtype}`;
  }),
  'topology-number': jsonEdit((random, json) => {
    const leaves = collectLeaves(json.modelTopology, (v) => typeof v === 'number' || (Array.isArray(v) && v.every((x) => typeof x === 'number')));
    if (!leaves.length) return undefined;
    const [holder, key] = pick(random, leaves);
    const value = pick(random, EXTREME_INTS);
    holder[key] = Array.isArray(holder[key]) ? (holder[key] as number[]).map(() => value) : value;
    return `topology ${String(key)} = ${value}`;
  }),
  'delete-key': jsonEdit((random, json) => {
    const leaves = collectLeaves(json, () => true);
    const [holder, key] = pick(random, leaves);
    if (Array.isArray(holder)) holder.splice(Number(key), 1);
    else delete holder[key];
    return `without ${String(key)}`;
  }),
  'retype-value': jsonEdit((random, json) => {
    const [holder, key] = pick(
      random,
      collectLeaves(json, () => true),
    );
    holder[key] = pick(random, [null, 'x', -1, 1e308, [], {}, true, [[[]]]]);
    return `${String(key)} retyped`;
  }),
  'hostile-names': jsonEdit((random, json) => {
    // Layer names (and their weights' names, so that the model still reads) or graph node names.
    const renames = new Map<string, string>();
    for (const [holder, key] of collectLeaves(json.modelTopology, (v, k) => k === 'name' && typeof v === 'string')) {
      const name = holder[key] as string;
      const hostile = `${name}${pick(random, [FORGED_LINE, ...HOSTILE_NAMES]).replace(/\//g, '|')}`;
      renames.set(name, hostile);
      holder[key] = hostile;
    }
    for (const group of json.weightsManifest as { weights: { name: string }[] }[]) {
      for (const weight of group.weights) {
        const [layer, ...rest] = weight.name.split('/');
        if (renames.has(layer) && rest.length) weight.name = [renames.get(layer), ...rest].join('/');
      }
    }
    return `${renames.size} hostile names`;
  }),
  'deep-nesting': (random, files, base) => {
    const depth = pick(random, [100, 5000, 100_000]);
    const text = new TextDecoder().decode(files.get(base.entry)!);
    files.set(base.entry, new TextEncoder().encode(text.replace(/^\s*\{/, `{"deep": ${'['.repeat(depth)}${']'.repeat(depth)},`)));
    return `arrays nested ${depth} deep`;
  },
  'shard-longer': (random, files, base) => {
    const shards = [...files.keys()].filter((name) => name !== base.entry);
    const shard = pick(random, shards);
    files.set(shard, concat(files.get(shard)!, new Uint8Array(4 * (1 + below(random, 256)))));
    return `${shard} longer than its manifest`;
  },
  'shard-missing': (random, files, base) => {
    const shard = pick(
      random,
      [...files.keys()].filter((name) => name !== base.entry),
    );
    files.delete(shard);
    return `without ${shard}`;
  },
};

/** `count` cases from a fixed seed: the same cases, byte for byte, on every run. */
export function generateCases(bases: Base[], count: number, seed = 'leaklint-fuzz-1'): Case[] {
  const random = mulberry32(seedFromName(seed));
  const cases: Case[] = [];
  while (cases.length < count) {
    const base = pick(random, bases);
    const mutations = { ...BYTE_MUTATIONS, ...(base.format === 'onnx' ? ONNX_MUTATIONS : TFJS_MUTATIONS) };
    const name = pick(random, Object.keys(mutations));
    const files = new Map(base.files);
    const description = mutations[name](random, files, base);
    if (description === undefined) continue;
    const id = `c${String(cases.length).padStart(3, '0')}`;
    // One case in twelve lives in a folder whose name is hostile too: paths are printed as well.
    const folder = random() < 1 / 12 ? `${id}-${pick(random, [FORGED_LINE, ...HOSTILE_NAMES]).replace(/[/\0]/g, '|')}` : id;
    cases.push({ id, base: base.name, mutation: `${name}: ${description}`, folder, entry: base.entry, files });
  }
  return cases;
}

export function writeCase(root: string, testCase: Case): string {
  const folder = path.join(root, testCase.folder);
  fs.mkdirSync(folder, { recursive: true });
  for (const [name, bytes] of testCase.files) fs.writeFileSync(path.join(folder, name), bytes);
  return path.join(folder, testCase.entry);
}

function pickFile(random: Random, files: Files): [string, Uint8Array] {
  // The entry half of the time: it is where the structure is.
  const names = [...files.keys()];
  const name = random() < 0.5 ? names[0] : pick(random, names);
  return [name, files.get(name)!];
}

function onnxEdit(edit: (random: Random, model: onnx.ModelProto) => string | undefined): Mutation {
  return (random, files, base) => {
    const model = onnx.ModelProto.decode(files.get(base.entry)!);
    const description = edit(random, model);
    if (description !== undefined) files.set(base.entry, onnx.ModelProto.encode(model).finish());
    return description;
  };
}

/** model.json is edited as untyped JSON on purpose. */
type Json = any;

function jsonEdit(edit: (random: Random, json: Json) => string | undefined): Mutation {
  return (random, files, base) => {
    const json = JSON.parse(new TextDecoder().decode(files.get(base.entry)!));
    const description = edit(random, json);
    if (description !== undefined) files.set(base.entry, new TextEncoder().encode(JSON.stringify(json, null, 1)));
    return description;
  };
}

function pickWeight(random: Random, json: Json): { name: string; shape: number[]; dtype: string; quantization?: object } {
  return pick(random, pick(random, json.weightsManifest as { weights: Json[] }[]).weights);
}

/** Every [holder, key] in `value` whose value passes `test`. */
function collectLeaves(value: Json, test: (value: unknown, key: string | number) => boolean): [Json, string | number][] {
  const found: [Json, string | number][] = [];
  const walk = (holder: Json): void => {
    if (holder === null || typeof holder !== 'object') return;
    for (const key of Array.isArray(holder) ? holder.keys() : Object.keys(holder)) {
      if (test(holder[key], key)) found.push([holder, key]);
      walk(holder[key]);
    }
  };
  walk(value);
  return found;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, p) => sum + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}
