// Walks a decoded ONNX graph in topological order and builds the layer graph: constants are folded away,
// every other node becomes a LayerNode with inferred shapes, and nothing is dropped silently.
import type { onnx } from 'onnx-proto';
import type { LayerGraph, LayerNode, Shape, TensorInfo } from '../../ir';
import { sizeOf } from '../../ir';
import { ModelReadError } from '../../errors';
import type { ResolvedReadOptions } from '../../options';
import { imageSizeFromMetadata, type ImageSizeHint } from '../imageInput';
import type { DecodedModel } from './decode';
import { InvalidAttribute } from './attributes';
import { materialized } from './constOps';
import { ELEMENTWISE_CONVERTERS, ELEMENTWISE_FOLDABLE } from './elementwiseOps';
import { foldBiasAdds } from './fusion';
import { resolveGraphInputs, staticShape, type ResolvedInput } from './graphInputs';
import { LAYER_CONVERTERS } from './layerOps';
import { NodeView, unsupported, type Converter, type LayerSpec, type Outcome, type Value } from './nodeView';
import { formatShape, ShapeMismatch } from './shapeMath';
import { SHAPE_CONVERTERS, SHAPE_FOLDABLE } from './shapeOps';
import type { ExternalData } from './externalData';
import { checkElementCount, tensorFromProto, type ConstTensor, type TensorContext } from './tensors';
import { checkNodeCount, nodeLabel, subgraphsOf, topologicalOrder } from './topology';

const CONVERTERS: Record<string, Converter> = { ...LAYER_CONVERTERS, ...ELEMENTWISE_CONVERTERS, ...SHAPE_CONVERTERS };
const FOLDABLE = new Set([...ELEMENTWISE_FOLDABLE, ...SHAPE_FOLDABLE]);
const CONTROL_FLOW = new Set(['If', 'Loop', 'Scan']);
const DEFAULT_DOMAINS = new Set(['', 'ai.onnx']);
/** Folded constants this small (shape arithmetic) are computed as soon as they are folded. */
const EAGER_ELEMENTS = 4096;
/** A folded constant derived through longer chains is computed when folded, so `values()` never recurses deeply. */
const MAX_LAZY_DEPTH = 16;

class GraphBuilder {
  private readonly values = new Map<string, Value>();
  private readonly declared = new Map<string, Shape>();
  private readonly usedIds = new Set<string>();
  private readonly nextSuffix = new Map<string, number>();
  private readonly limits: TensorContext;
  /** Computed constants already counted against maxDerivedElements, and their total. */
  private readonly counted = new Set<ConstTensor>();
  private derivedElements = 0;
  private inputs: ResolvedInput[] = [];
  readonly warnings: string[] = [];
  readonly nodes: LayerNode[] = [];

  constructor(
    private readonly graph: onnx.IGraphProto,
    private readonly opset: number,
    private readonly file: string,
    private readonly opts: ResolvedReadOptions,
    external: ExternalData | undefined,
    /** An image size from the model's metadata_props, for inputs with a dynamic height and width. */
    private readonly imageHint?: ImageSizeHint,
  ) {
    this.limits = { modelFile: file, maxTensorElements: opts.maxTensorElements, externalData: opts.externalData, external };
  }

  build(): { inputs: TensorInfo[]; outputs: TensorInfo[] } {
    const { graph } = this;
    checkNodeCount(graph, this.opts.maxNodes, this.file);
    (graph.initializer ?? []).forEach((proto, i) => {
      const tensor = tensorFromProto(proto, this.limits, `initializer ${i} ("${proto.name ?? ''}")`);
      this.values.set(tensor.name, { kind: 'constant', tensor });
    });
    for (const sparse of graph.sparseInitializer ?? []) {
      const name = sparse.values?.name ?? '';
      this.values.set(name, { kind: 'unknown', reason: `sparse initializer "${name}" is not decoded` });
    }
    const inputs = resolveGraphInputs(graph.input ?? [], (name) => this.values.has(name), this.opts, this.file, this.warnings, this.imageHint);
    this.inputs = inputs;
    for (const input of inputs) this.values.set(input.name, { kind: 'activation', shape: input.shape });
    const graphInputs = inputs.map(({ name, shape }) => ({ name, shape }));
    for (const info of [...(graph.valueInfo ?? []), ...(graph.output ?? [])]) {
      const shape = staticShape(info);
      if (shape && info.name) this.declared.set(info.name, shape);
    }

    const nodes = graph.node ?? [];
    for (const index of topologicalOrder(nodes, new Set(this.values.keys()), this.file)) this.visit(nodes[index], index);
    return { inputs: graphInputs, outputs: this.graphOutputs() };
  }

  private visit(proto: onnx.INodeProto, index: number): void {
    const where = nodeLabel(proto, index);
    const inputs = (proto.input ?? []).map((name) => (name ? this.values.get(name) : undefined));
    const node = new NodeView(proto, index, where, this.opset, this.limits, inputs);
    let outcome: Outcome;
    try {
      outcome = this.convert(node);
    } catch (e) {
      if (e instanceof ShapeMismatch) throw new ModelReadError('bad-shape', this.file, where, `${node.opType}: ${e.message}${this.assumedImage()}`);
      if (e instanceof InvalidAttribute) throw new ModelReadError('invalid-model', this.file, where, `${node.opType}: ${e.message}`);
      throw e;
    }
    if ('folded' in outcome) this.registerFolded(proto, outcome.folded, where);
    else this.emit(node, outcome);
  }

  private convert(node: NodeView): Outcome {
    const { proto, opType, inputs } = node;
    if (CONTROL_FLOW.has(opType)) {
      this.warnings.push(`${node.where}: ${opType} with ${subgraphsOf(proto).length} subgraph(s) is not analysed`);
      return unsupported(`control flow (${opType}) is not analysed`);
    }
    if (!DEFAULT_DOMAINS.has(proto.domain ?? '')) return unsupported(`operator ${proto.domain}.${opType} is not supported`);
    const unknown = inputs.find((v) => v?.kind === 'unknown');
    if (unknown?.kind === 'unknown') return unsupported(unknown.reason);
    const converter = CONVERTERS[opType];
    if (!converter) return unsupported(`${opType} is not supported`);
    if (!FOLDABLE.has(opType) && !inputs.some((v) => v?.kind === 'activation')) {
      return unsupported(`${opType} computes on constants only; it is not evaluated`);
    }
    return converter(node);
  }

  /** "; input "x" was assumed to be [1,3,224,224]: pass an input shape" when an image size was assumed. */
  private assumedImage(): string {
    const assumed = this.inputs.find((input) => input.assumed);
    return assumed ? `; input "${assumed.name}" was assumed to be [${assumed.shape.join(',')}]: pass an input shape` : '';
  }

  private registerFolded(proto: onnx.INodeProto, folded: readonly ConstTensor[], where: string): void {
    (proto.output ?? []).forEach((name, i) => {
      if (!name) return;
      const tensor = folded[i];
      if (!tensor) {
        this.values.set(name, { kind: 'unknown', reason: `output ${i} of ${where} is not modelled` });
        return;
      }
      checkElementCount(tensor.shape, this.limits, where);
      this.countDerived(tensor, where);
      // Nodes are visited in topological order: operands are already computed, so this stays shallow.
      const eager = (tensor.depth ?? 0) > 0 && (sizeOf(tensor.shape) <= EAGER_ELEMENTS || (tensor.depth ?? 0) > MAX_LAZY_DEPTH);
      const value = eager ? materialized(tensor) : tensor;
      if (eager) this.counted.add(value);
      this.values.set(name, { kind: 'constant', tensor: value });
    });
  }

  /** Constants the graph computes cost no file bytes: their total size is capped by maxDerivedElements. */
  private countDerived(tensor: ConstTensor, where: string): void {
    if (!tensor.computed || this.counted.has(tensor)) return;
    const elements = sizeOf(tensor.shape);
    const limit = this.opts.maxDerivedElements;
    if (this.derivedElements + elements > limit) {
      const reason =
        `computes a constant of ${elements} elements ${formatShape(tensor.shape)}, taking the model's computed constants ` +
        `to ${this.derivedElements + elements} elements, over the ${limit}-element limit`;
      throw new ModelReadError('too-large', this.file, where, reason);
    }
    this.derivedElements += elements;
    this.counted.add(tensor);
  }

  private emit(node: NodeView, spec: LayerSpec): void {
    const { proto, index, where, inputs } = node;
    const id = this.uniqueId(proto.name || `${node.opType}_${index}`);
    const inputNames = proto.input ?? [];
    const outputNames = proto.output ?? [];
    const activationInputs = inputNames.filter((_, i) => inputs[i] !== undefined && inputs[i].kind !== 'constant');
    // An unsupported node's outputs are all its own; a supported one models only its first outputs (not masks, indices).
    const modelled = spec.op === 'unsupported' ? outputNames.length : spec.outputShapes.length;
    const outputShapes = outputNames.map((name, i) => {
      if (i >= modelled) return undefined;
      return spec.outputShapes[i] ?? (spec.op === 'unsupported' ? this.declared.get(name) : undefined);
    });
    for (const shape of outputShapes) if (shape) this.checkActivationShape(shape, where);

    const inherited = inputs.find((v) => v?.kind === 'unknown');
    const unknownReason = inherited?.kind === 'unknown' ? inherited.reason : `input shape unknown (after unsupported node ${id})`;
    outputNames.forEach((name, i) => {
      if (!name) return;
      const shape = outputShapes[i];
      if (shape) this.values.set(name, { kind: 'activation', shape });
      else if (i < modelled) this.values.set(name, { kind: 'unknown', reason: unknownReason });
      else this.values.set(name, { kind: 'unknown', reason: `reads output ${i} of ${id}, which is not modelled` });
    });

    const outputs = outputNames.slice(0, modelled).filter((name) => name);
    const shapes = outputNames.slice(0, modelled).flatMap((name, i) => (name ? [outputShapes[i]] : []));
    const inputShapes = activationInputs.map((name) => this.activationShape(name));
    this.nodes.push({
      id,
      name: proto.name ?? '',
      op: spec.op,
      sourceOp: node.opType,
      inputs: activationInputs,
      outputs,
      // Shape lists are parallel to inputs/outputs, or empty when some shape is unknown.
      inputShapes: allKnown(inputShapes),
      outputShapes: allKnown(shapes),
      attrs: spec.attrs ?? { kind: 'none' },
      weights: spec.weights ?? {},
      location: { format: 'onnx', nodeIndex: index, nodeName: proto.name ?? '' },
      status: spec.op === 'unsupported' ? 'unsupported' : 'ok',
      ...(spec.note ? { note: spec.note } : {}),
    });
  }

  private activationShape(name: string): Shape | undefined {
    const value = this.values.get(name);
    return value?.kind === 'activation' ? value.shape : undefined;
  }

  /** Activations must have positive dims within the element limit (a zero dim means the geometry is impossible). */
  private checkActivationShape(shape: Shape, where: string): void {
    if (shape.some((d) => !Number.isSafeInteger(d) || d < 1)) {
      throw new ModelReadError('bad-shape', this.file, where, `the output shape would be ${formatShape(shape)}`);
    }
    checkElementCount(shape, this.limits, where);
  }

  /** The name, or name_2, name_3...; the next suffix per name is remembered so that many duplicates stay linear. */
  private uniqueId(base: string): string {
    let id = base;
    let suffix = this.nextSuffix.get(base) ?? 2;
    while (this.usedIds.has(id)) id = `${base}_${suffix++}`;
    this.nextSuffix.set(base, suffix);
    this.usedIds.add(id);
    return id;
  }

  private graphOutputs(): TensorInfo[] {
    return (this.graph.output ?? []).map((info) => {
      const name = info.name ?? '';
      const value = this.values.get(name);
      const declared = this.declared.get(name);
      const shape = value?.kind === 'activation' ? value.shape : value?.kind === 'constant' ? value.tensor.shape : (declared ?? []);
      if (declared && value?.kind === 'activation' && formatShape(declared) !== formatShape(shape)) {
        this.warnings.push(`output "${name}" is declared as ${formatShape(declared)} but infers as ${formatShape(shape)}`);
      }
      return { name, shape };
    });
  }
}

function allKnown(shapes: (Shape | undefined)[]): Shape[] {
  return shapes.every((shape) => shape !== undefined) ? (shapes as Shape[]) : [];
}

export function buildLayerGraph(decoded: DecodedModel, file: string, opts: ResolvedReadOptions, external?: ExternalData): LayerGraph {
  const { model, graph, opset } = decoded;
  const metadata = (model.metadataProps ?? []).map((entry): [string, unknown] => [entry.key ?? '', entry.value ?? '']);
  const builder = new GraphBuilder(graph, opset, file, opts, external, imageSizeFromMetadata(metadata));
  if (opset < 6) builder.warnings.push(`ai.onnx opset ${opset} is older than 6; it is read with opset 6 rules`);
  const { inputs, outputs } = builder.build();
  const kernels = builder.nodes.flatMap((n) => (n.weights?.kernel ? [n.weights.kernel] : []));
  const uniform = kernels.filter((k) => k.uniform).length;
  if (uniform > 0) {
    // ONNX's "light" test models store every weight this way: their findings describe no trained network.
    builder.warnings.push(
      `${uniform === kernels.length ? `every conv/dense kernel (${uniform}) is` : `${uniform} of the ${kernels.length} conv/dense kernels ${uniform === 1 ? 'is' : 'are'}`} one repeated value (ConstantOfShape), not trained weights: the findings describe these placeholders`,
    );
  }
  const producer = [model.producerName, model.producerVersion].filter(Boolean).join(' ');
  return {
    format: 'onnx',
    file,
    ...(producer ? { producer } : {}),
    opset,
    inputs,
    outputs,
    nodes: foldBiasAdds(builder.nodes, new Set(outputs.map((o) => o.name))),
    warnings: builder.warnings,
  };
}
