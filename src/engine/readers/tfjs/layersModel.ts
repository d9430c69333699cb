// TF.js layers models: a Keras model config plus a weights manifest named after the layers. A model used as a
// layer of another (transfer learning) is expanded in place, its node ids prefixed with its name.
import { ModelReadError } from '../../errors';
import { topologicalOrder } from '../../graph/topologicalSort';
import type { LayerGraph } from '../../ir';
import { imageSizeFromMetadata } from '../imageInput';
import { IrBuilder, type NodeOrigin } from './builder';
import { isObject, whereAt, type JsonObject, type ModelJson } from './json';
import { convertKerasCall } from './kerasLayers';
import { declaredBatchShape, MODEL_CLASSES, parseKerasModel, type KerasLayer, type KerasModel, type TensorRef } from './kerasTopology';
import type { TfLayout } from './layout';
import type { TfjsModelParts } from './modelParts';
import type { StoredWeight } from './weights';

interface LayerCall {
  layer: KerasLayer;
  index: number;
  inputs: TensorRef[];
}

export function readLayersModel(parts: TfjsModelParts): LayerGraph {
  const { file, doc, root, topology, opts } = parts;
  const modelConfig = isObject(topology.model_config) ? topology.model_config : topology;
  const model = parseKerasModel(file, doc, modelConfig);
  if (model.layers.length > opts.maxNodes) {
    throw new ModelReadError('too-large', file, 'modelTopology', `the model has ${model.layers.length} layers, over the ${opts.maxNodes} limit`);
  }
  const { layout, mixed } = dataFormat(modelConfig);
  const builder = new IrBuilder(file, opts, layout);
  builder.imageHint = imageSizeFromMetadata(Object.entries(isObject(root.userDefinedMetadata) ? root.userDefinedMetadata : {}));
  if (mixed) builder.warnings.push('the model mixes channels_first and channels_last layers; read as channels_first');
  if (!parts.hasManifest) builder.warnings.push('model.json has no weightsManifest: layers carry no weight values');
  const outputs = buildModel(parts, builder, model, undefined, '');
  return builder.finish('tfjs-layers', producerOf(root, topology, modelConfig), [...new Set(outputs)]);
}

/**
 * Emits the nodes of `model` and returns its output tensors. `boundInputs` stand for its InputLayers when the model
 * is called as a layer of an outer model; `scope` prefixes its node ids then.
 */
function buildModel(parts: TfjsModelParts, builder: IrBuilder, model: KerasModel, boundInputs: string[] | undefined, scope: string): string[] {
  const { file, doc } = parts;
  const calls: LayerCall[] = model.layers.flatMap((layer) => layer.calls.map((inputs, index) => ({ layer, index, inputs })));
  const ordered = topologicalOrder(
    calls,
    (call) => callKey(call.layer.name, call.index),
    (call) => call.inputs.map((ref) => callKey(ref.layer, ref.call)),
    ([call]) => new ModelReadError('cyclic-graph', file, whereOf(doc, call.layer), `layer "${call.layer.name}" depends on its own output`),
  );
  const tensors = new Map<string, string>();
  const tensorOf = (ref: TensorRef, where: string): string => {
    const tensor = tensors.get(tensorKey(ref));
    if (tensor === undefined) throw new ModelReadError('invalid-model', file, where, `reads output ${ref.index} of layer "${ref.layer}", which has none`);
    return tensor;
  };
  for (const call of ordered) {
    const { layer } = call;
    const location = doc.locate(layer.json);
    const where = whereAt(location, layer.name);
    const origin: NodeOrigin = {
      id: `${scope}${layer.name}${call.index === 0 ? '' : `@${call.index}`}`,
      name: layer.name,
      sourceOp: layer.className,
      location,
    };
    const inputs = call.inputs.map((ref) => tensorOf(ref, where));
    let output: string;
    if (layer.className === 'InputLayer') {
      output = boundInputs ? boundInput(file, where, model, layer, boundInputs) : builder.input(layer.name, declaredShape(layer.config), where);
    } else if (MODEL_CLASSES.has(layer.className)) {
      const nested = parseKerasModel(file, doc, layer.json);
      const nestedOutputs = buildModel(parts, builder, nested, inputs, `${origin.id}/`);
      if (nestedOutputs.length > 1) builder.warn(origin, 'a nested model with several outputs: only the first is followed');
      output = nestedOutputs[0]!;
    } else {
      const weight = weightLookup(parts, builder, layer, origin);
      output = builder.guarded(origin, inputs, () => convertKerasCall(layer.className, { builder, origin, config: layer.config, inputs, weight }));
    }
    tensors.set(tensorKey({ layer: layer.name, call: call.index, index: 0 }), output);
  }
  for (const layer of model.layers) {
    if (layer.calls.length === 0) builder.warnings.push(`layer "${layer.name}" is never called; left out`);
  }
  return model.outputs.map((ref) => tensorOf(ref, `${scope || 'model '}output_layers`));
}

/** The outer tensor an InputLayer of a nested model stands for. */
function boundInput(file: string, where: string, model: KerasModel, layer: KerasLayer, boundInputs: string[]): string {
  const index = model.inputs.findIndex((ref) => ref.layer === layer.name);
  const tensor = boundInputs[index];
  if (tensor === undefined) throw new ModelReadError('invalid-model', file, where, `nested model input "${layer.name}" is not fed by the outer model`);
  return tensor;
}

/**
 * The layer's weight `param`. Converters name it "<layer>/<param>"; nested models and TF 2 may add a scope prefix
 * or a ":0" suffix, which is accepted when exactly one weight matches.
 */
function weightLookup(parts: TfjsModelParts, builder: IrBuilder, layer: KerasLayer, origin: NodeOrigin): (param: string) => StoredWeight | undefined {
  const { weights } = parts;
  return (param) => {
    if (weights.size === 0) return undefined;
    const name = `${layer.name}/${param}`;
    const exact = weights.get(name) ?? weights.get(`${name}:0`);
    if (exact) return exact;
    const scoped = weights.withSuffix(name);
    if (scoped.length === 1) return weights.get(scoped[0]!);
    throw builder.error('bad-weights', origin, `the weights manifest has no weight "${name}"`);
  };
}

function declaredShape(config: JsonObject): (number | null)[] | undefined {
  const raw = declaredBatchShape(config);
  if (!Array.isArray(raw)) return undefined;
  return raw.map((d) => (typeof d === 'number' && d >= 0 ? d : null));
}

/** channels_first anywhere (nested models included) makes the model NCHW. */
function dataFormat(modelConfig: JsonObject): { layout: TfLayout; mixed: boolean } {
  const formats = new Set<string>();
  const visit = (value: unknown): void => {
    if (Array.isArray(value)) value.forEach(visit);
    else if (isObject(value)) {
      for (const [key, v] of Object.entries(value)) {
        if (key === 'data_format' && typeof v === 'string') formats.add(v);
        else visit(v);
      }
    }
  };
  visit(modelConfig);
  const channelsFirst = formats.has('channels_first');
  return { layout: channelsFirst ? 'NCHW' : 'NHWC', mixed: channelsFirst && formats.has('channels_last') };
}

function producerOf(root: JsonObject, topology: JsonObject, modelConfig: JsonObject): string | undefined {
  const keras = topology.keras_version ?? modelConfig.keras_version;
  const converter = root.convertedBy ?? root.generatedBy;
  const parts = [typeof keras === 'string' ? `keras ${keras}` : undefined, typeof converter === 'string' ? converter : undefined];
  return parts.filter((p) => p !== undefined).join(', ') || undefined;
}

function whereOf(doc: ModelJson, layer: KerasLayer): string {
  return whereAt(doc.locate(layer.json), layer.name);
}

function callKey(layer: string, call: number): string {
  return `${layer}#${call}`;
}

function tensorKey(ref: TensorRef): string {
  return `${ref.layer}#${ref.call}#${ref.index}`;
}
