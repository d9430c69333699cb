// Keras model configs (Sequential and functional, Keras 2 list-style and Keras 3 args-style inbound nodes, and
// tfjs-layers' own output) reduced to one form: layers, each called one or more times on tensors of other layers.
import { ModelReadError } from '../../errors';
import { formatJsonPath, isObject, type JsonObject, type ModelJson } from './json';

/** Output `index` of call `call` of layer `layer` (Keras' ["name", node_index, tensor_index]). */
export interface TensorRef {
  layer: string;
  call: number;
  index: number;
}

export interface KerasLayer {
  name: string;
  className: string;
  config: JsonObject;
  /** The layer's object in model.json, for locations. */
  json: JsonObject;
  /** Inbound tensors of each call; an InputLayer has one call with none. */
  calls: TensorRef[][];
}

export interface KerasModel {
  layers: KerasLayer[];
  inputs: TensorRef[];
  outputs: TensorRef[];
}

export const MODEL_CLASSES = new Set(['Sequential', 'Model', 'Functional']);

/** `topology` is a {class_name, config} model object (modelTopology.model_config, or modelTopology itself). */
export function parseKerasModel(file: string, doc: ModelJson, topology: JsonObject): KerasModel {
  const where = formatJsonPath(doc.locate(topology).jsonPath);
  const className = topology.class_name;
  if (typeof className !== 'string' || !MODEL_CLASSES.has(className)) {
    throw new ModelReadError('not-a-model', file, where, `"${String(className)}" is not a Keras model class`);
  }
  const model = className === 'Sequential' ? sequential(file, where, topology.config) : functional(file, where, topology.config);
  checkReferences(file, doc, model);
  return model;
}

function sequential(file: string, where: string, config: unknown): KerasModel {
  // Keras < 2.2 writes the layer list as the config itself.
  const rawLayers = Array.isArray(config) ? config : isObject(config) ? config.layers : undefined;
  if (!Array.isArray(rawLayers) || rawLayers.length === 0) {
    throw new ModelReadError('invalid-model', file, `${where}.config`, 'a Sequential model needs a non-empty layer list');
  }
  const layers = rawLayers.map((raw, i) => layerOf(file, `${where}.config.layers[${i}]`, raw));
  if (layers[0]!.className !== 'InputLayer') {
    const first = layers[0]!;
    const buildShape = isObject(config) ? config.build_input_shape : undefined;
    const inputConfig: JsonObject = { batch_input_shape: declaredBatchShape(first.config) ?? (buildShape as unknown) ?? null };
    layers.unshift({ name: `${first.name}_input`, className: 'InputLayer', config: inputConfig, json: first.json, calls: [[]] });
  }
  layers.forEach((layer, i) => {
    layer.calls = i === 0 ? [[]] : [[{ layer: layers[i - 1]!.name, call: 0, index: 0 }]];
  });
  const last = layers[layers.length - 1]!;
  return { layers, inputs: [{ layer: layers[0]!.name, call: 0, index: 0 }], outputs: [{ layer: last.name, call: 0, index: 0 }] };
}

function functional(file: string, where: string, config: unknown): KerasModel {
  if (!isObject(config) || !Array.isArray(config.layers)) {
    throw new ModelReadError('invalid-model', file, `${where}.config`, 'a functional model needs a "layers" list');
  }
  const layers = config.layers.map((raw, i) => {
    const layerWhere = `${where}.config.layers[${i}]`;
    const layer = layerOf(file, layerWhere, raw);
    const inbound = isObject(raw) ? raw.inbound_nodes : undefined;
    layer.calls = layer.className === 'InputLayer' ? [[]] : inboundCalls(file, `${layerWhere}.inbound_nodes`, inbound);
    return layer;
  });
  return {
    layers,
    inputs: refList(file, `${where}.config.input_layers`, config.input_layers),
    outputs: refList(file, `${where}.config.output_layers`, config.output_layers),
  };
}

/** The shape an InputLayer or a first layer declares, batch included. */
export function declaredBatchShape(config: JsonObject): unknown {
  if (config.batch_input_shape !== undefined) return config.batch_input_shape;
  if (config.batch_shape !== undefined) return config.batch_shape;
  if (Array.isArray(config.input_shape)) return [null, ...config.input_shape];
  return undefined;
}

function layerOf(file: string, where: string, raw: unknown): KerasLayer {
  if (!isObject(raw) || typeof raw.class_name !== 'string') {
    throw new ModelReadError('invalid-model', file, where, 'a layer needs a "class_name"');
  }
  const config = isObject(raw.config) ? raw.config : {};
  const name = typeof raw.name === 'string' ? raw.name : typeof config.name === 'string' ? config.name : undefined;
  if (!name) throw new ModelReadError('invalid-model', file, where, 'a layer needs a name');
  return { name, className: raw.class_name, config, json: raw, calls: [] };
}

function inboundCalls(file: string, where: string, inbound: unknown): TensorRef[][] {
  if (inbound === undefined || inbound === null) return [];
  if (!Array.isArray(inbound)) throw new ModelReadError('invalid-model', file, where, 'is not a list');
  return inbound.map((call, k) => {
    const callWhere = `${where}[${k}]`;
    // Keras 3: {"args": [...keras tensors...], "kwargs": {...}}
    if (isObject(call)) return kerasHistories(call.args);
    if (!Array.isArray(call)) throw new ModelReadError('invalid-model', file, callWhere, 'is neither a list nor an args object');
    // Keras 2: [["name", node, tensor, {kwargs}], ...]; tolerate a bare ["name", node, tensor].
    if (typeof call[0] === 'string') return [tensorRef(file, callWhere, call)];
    return call.map((ref, r) => tensorRef(file, `${callWhere}[${r}]`, ref));
  });
}

/** Every keras_history found in Keras 3 call arguments (nested lists included), in order. */
function kerasHistories(args: unknown): TensorRef[] {
  const refs: TensorRef[] = [];
  const visit = (value: unknown): void => {
    if (Array.isArray(value)) value.forEach(visit);
    else if (isObject(value)) {
      const history = isObject(value.config) ? value.config.keras_history : undefined;
      if (value.class_name === '__keras_tensor__' && Array.isArray(history)) refs.push(refOf(history));
    }
  };
  visit(args);
  return refs.filter((ref) => ref.layer !== '');
}

function refList(file: string, where: string, raw: unknown): TensorRef[] {
  if (!Array.isArray(raw)) throw new ModelReadError('invalid-model', file, where, 'is missing or not a list');
  // A single ["name", 0, 0] (Keras 3 with one input) or a list of them.
  if (typeof raw[0] === 'string') return [tensorRef(file, where, raw)];
  return raw.map((ref, i) => tensorRef(file, `${where}[${i}]`, ref));
}

function tensorRef(file: string, where: string, raw: unknown): TensorRef {
  if (!Array.isArray(raw) || typeof raw[0] !== 'string') {
    throw new ModelReadError('invalid-model', file, where, 'is not a ["layer", node, tensor] reference');
  }
  return refOf(raw);
}

function refOf(raw: unknown[]): TensorRef {
  const int = (v: unknown) => (Number.isSafeInteger(v) ? (v as number) : 0);
  return { layer: typeof raw[0] === 'string' ? raw[0] : '', call: int(raw[1]), index: int(raw[2]) };
}

function checkReferences(file: string, doc: ModelJson, model: KerasModel): void {
  const byName = new Map<string, KerasLayer>();
  for (const layer of model.layers) {
    if (byName.has(layer.name)) {
      throw new ModelReadError('invalid-model', file, formatJsonPath(doc.locate(layer.json).jsonPath), `duplicate layer name "${layer.name}"`);
    }
    byName.set(layer.name, layer);
  }
  const check = (ref: TensorRef, where: string) => {
    const target = byName.get(ref.layer);
    if (!target) throw new ModelReadError('invalid-model', file, where, `refers to unknown layer "${ref.layer}"`);
    if (ref.call >= target.calls.length) {
      throw new ModelReadError('invalid-model', file, where, `refers to call ${ref.call} of layer "${ref.layer}", which has ${target.calls.length}`);
    }
  };
  for (const layer of model.layers) {
    const where = formatJsonPath(doc.locate(layer.json).jsonPath);
    for (const call of layer.calls) for (const ref of call) check(ref, where);
  }
  for (const ref of [...model.inputs, ...model.outputs]) check(ref, 'model inputs/outputs');
}
