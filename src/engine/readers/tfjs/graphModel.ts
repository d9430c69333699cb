// TF.js graph models: a frozen TF GraphDef whose Const nodes are filled from the weights manifest. Nodes are visited
// in topological order; each TF tensor becomes an IR activation, a constant, or an opaque value (a constant
// computation we do not evaluate, only an error if an op needs its value).
import { ModelReadError } from '../../errors';
import { topologicalOrder } from '../../graph/topologicalSort';
import type { LayerGraph, Shape } from '../../ir';
import { imageSizeFromMetadata } from '../imageInput';
import { IrBuilder, type NodeOrigin } from './builder';
import { constantValues, constantWeight, foldConstant, type Constant } from './constFold';
import {
  attrShape,
  attrString,
  inlineConstant,
  nodeWhere,
  parseGraphNodes,
  parseShapeProto,
  parseTensorName,
  tensorKey,
  type GraphNode,
  type TensorName,
} from './graphDef';
import { GRAPH_OPS, NotModelled, type OpContext } from './graphOps';
import { isObject, whereAt } from './json';
import type { TfLayout } from './layout';
import type { TfjsModelParts } from './modelParts';
import { unmodelledOutputShape } from './unmodelledShapes';
import type { StoredWeight } from './weights';

type Value = { kind: 'tensor'; tensor: string } | { kind: 'constant'; constant: Constant } | { kind: 'opaque'; why: string };

/** Ops that never touch data; skipped without a trace. */
const NO_DATA_OPS = new Set(['NoOp']);

export function readGraphModel(parts: TfjsModelParts, rawNodes: unknown[]): LayerGraph {
  return new GraphModelReader(parts, rawNodes).read();
}

class GraphModelReader {
  private readonly nodes: GraphNode[];
  private readonly builder: IrBuilder;
  private readonly values = new Map<string, Value>();
  /** Data consumers of each TF tensor ("node:index"). */
  private readonly consumers = new Map<string, number>();
  /** The TF tensor that currently stands for each IR tensor (a folded Add/Mul takes over its conv's output). */
  private readonly owners = new Map<string, string>();
  /** Conv/dense ops whose input is an opaque value: never emitted, listed in one warning. */
  private readonly unreachedLayers: string[] = [];

  constructor(
    private readonly parts: TfjsModelParts,
    rawNodes: unknown[],
  ) {
    this.nodes = parseGraphNodes(parts.file, rawNodes, parts.opts);
    this.builder = new IrBuilder(parts.file, parts.opts, modelLayout(this.nodes));
    this.builder.imageHint = imageSizeFromMetadata(Object.entries(isObject(parts.root.userDefinedMetadata) ? parts.root.userDefinedMetadata : {}));
    if (!parts.hasManifest) this.builder.warnings.push('model.json has no weightsManifest: constants carry no values');
  }

  read(): LayerGraph {
    const { file, doc } = this.parts;
    const byName = new Map(this.nodes.map((n) => [n.name, n]));
    for (const node of this.nodes) {
      for (const source of [...node.inputs.map((t) => t.node), ...node.controlInputs]) {
        if (!byName.has(source)) throw new ModelReadError('invalid-model', file, nodeWhere(doc, node), `input "${source}" names no node`);
      }
      for (const input of node.inputs) this.consumers.set(tensorKey(input), (this.consumers.get(tensorKey(input)) ?? 0) + 1);
    }
    const ordered = topologicalOrder(
      this.nodes,
      (n) => n.name,
      (n) => [...n.inputs.map((t) => t.node).filter((source) => !isLoopBackEdge(n, byName.get(source))), ...n.controlInputs],
      ([n]) => new ModelReadError('cyclic-graph', file, nodeWhere(doc, n), `node "${n.name}" depends on its own output`),
    );
    for (const node of ordered) this.visit(node);
    if (this.unreachedLayers.length > 0) {
      const names = this.unreachedLayers.slice(0, 5).map((name) => `"${name}"`);
      const more = this.unreachedLayers.length > names.length ? ` and ${this.unreachedLayers.length - names.length} more` : '';
      this.builder.warnings.push(
        `${this.unreachedLayers.length} conv/dense layer(s) read values computed by ops LeakLint does not follow (a while loop, a tensor list...) and are not analysed: ${names.join(', ')}${more}`,
      );
    }
    return this.builder.finish('tfjs-graph', this.producer(), this.signatureOutputs());
  }

  private visit(node: GraphNode): void {
    const location = this.parts.doc.locate(node.json);
    const where = whereAt(location, node.name);
    if (node.op === 'Placeholder') return this.set(node, { kind: 'tensor', tensor: this.builder.input(node.name, this.placeholderShape(node), where) });
    if (node.op === 'Const') return this.set(node, this.constantNode(node, where));
    if (NO_DATA_OPS.has(node.op)) return;

    const inputs = node.inputs.map((t) => this.valueOf(t));
    const tensors = inputs.flatMap((v) => (v.kind === 'tensor' ? [v.tensor] : []));
    if (tensors.length === 0) return this.set(node, this.foldedNode(node, inputs));

    const origin: NodeOrigin = { id: node.name, name: node.name, sourceOp: node.op, location };
    let result: string | Constant;
    try {
      const handler = GRAPH_OPS[node.op];
      if (!handler) throw new NotModelled(`TF op "${node.op}" is not supported`);
      const context = this.context(node, origin, inputs);
      let constant: Constant | undefined;
      const tensor = this.builder.guarded(origin, tensors, () => {
        const out = handler(context);
        if (typeof out === 'string') return out;
        constant = out;
        return '';
      });
      result = constant ?? tensor;
    } catch (e) {
      if (!(e instanceof NotModelled)) throw e;
      result = this.unsupported(node, origin, inputs, e.message);
    }
    this.set(node, typeof result === 'string' ? { kind: 'tensor', tensor: result } : { kind: 'constant', constant: result });
  }

  /**
   * An op we do not model, with the output shape TF recorded (`_output_shapes`) or its documented shape rule gives;
   * a shape inferred from a guessed input stays a guess.
   */
  private unsupported(node: GraphNode, origin: NodeOrigin, inputs: Value[], note: string): string {
    const tensors = inputs.flatMap((v) => (v.kind === 'tensor' ? [v.tensor] : []));
    const recorded = outputShapeHint(node);
    if (recorded) return this.builder.unsupported(origin, tensors, note, recorded);
    const shapes = inputs.map((v) => (v.kind === 'tensor' ? this.builder.tfShape(v.tensor) : v.kind === 'constant' ? v.constant.shape : undefined));
    const values = (i: number) => {
      const value = inputs[i];
      return value?.kind === 'constant' ? constantValues(value.constant) : undefined;
    };
    const inferred = unmodelledOutputShape(node, { shapes, values });
    const guessed = inferred === undefined || tensors.some((t) => this.builder.isGuessed(t));
    return this.builder.unsupported(origin, tensors, note, inferred, guessed);
  }

  private context(node: GraphNode, origin: NodeOrigin, inputs: Value[]): OpContext {
    const constant = (i: number, role: string): Constant => {
      const value = inputs[i];
      if (value?.kind === 'constant') return value.constant;
      throw new NotModelled(value?.kind === 'opaque' ? `${role}: ${value.why}` : `${role} (input ${i}) is not a constant`);
    };
    return {
      builder: this.builder,
      node,
      origin,
      maybeInput: (i) => {
        const value = inputs[i];
        return value?.kind === 'tensor' ? value.tensor : undefined;
      },
      input: (i) => {
        const value = inputs[i];
        if (value?.kind === 'tensor') return value.tensor;
        throw new NotModelled(`input ${i} is ${value ? `a ${value.kind} value` : 'missing'}, not an activation`);
      },
      weight: (i, role) => {
        const weight = constantWeight(constant(i, role), `${node.name}/${role}`);
        if (!weight) throw new NotModelled(`${role} (input ${i}) has no values in the file`);
        return weight;
      },
      ints: (i, role) => {
        const values = constantValues(constant(i, role));
        if (!values) throw new NotModelled(`${role} (input ${i}) could not be evaluated`);
        return values;
      },
      foldInto: (tensor, weight, kind) => this.foldInto(node, tensor, weight, kind),
    };
  }

  /**
   * Folds a constant Add (bias) or Mul (per-channel scale) into the conv/dense producing `tensor`, when nothing else
   * reads that output. TF's arithmetic optimizer may move a conv's bias after a residual Add; it is moved back.
   */
  private foldInto(node: GraphNode, tensor: string, weight: StoredWeight, kind: 'bias' | 'scale'): boolean {
    const producer = this.builder.producerOf(tensor);
    if (!producer || !this.exclusive(tensor)) return false;
    const fold = (target: typeof producer) =>
      kind === 'bias' ? this.builder.foldBias(target, weight, node.name) : this.builder.foldScale(target, weight, node.name);
    if (fold(producer)) return true;
    if (kind !== 'bias' || producer.op !== 'add' || producer.weights.operand) return false;
    return producer.inputs.some((branch) => {
      const conv = this.builder.producerOf(branch);
      return conv !== undefined && this.exclusive(branch) && fold(conv);
    });
  }

  private exclusive(tensor: string): boolean {
    const owner = this.owners.get(tensor);
    return owner !== undefined && this.consumers.get(owner) === 1;
  }

  private set(node: GraphNode, value: Value): void {
    const key = tensorKey({ node: node.name, index: 0 });
    this.values.set(key, value);
    if (value.kind === 'tensor') this.owners.set(value.tensor, key);
  }

  private valueOf(t: TensorName): Value {
    return this.values.get(tensorKey(t)) ?? { kind: 'opaque', why: `output ${t.index} of "${t.node}" is not modelled` };
  }

  /** A Const: values from the weights manifest (by node name), else written inline in model.json. */
  private constantNode(node: GraphNode, where: string): Value {
    const weight = this.parts.weights.get(node.name) ?? inlineConstant(this.parts.file, where, node, this.parts.opts);
    if (weight) return { kind: 'constant', constant: { shape: weight.shape, weight } };
    const tensor = isObject(node.attr.value) ? node.attr.value.tensor : undefined;
    const declared = isObject(tensor) ? parseShapeProto(tensor.tensorShape) : undefined;
    if (declared && declared.every((d): d is number => d !== null)) return { kind: 'constant', constant: { shape: declared } };
    return { kind: 'opaque', why: `constant "${node.name}" has no values or shape` };
  }

  /** A node computing on constants only: evaluated when it is a shape computation we know. */
  private foldedNode(node: GraphNode, inputs: Value[]): Value {
    const constants = inputs.flatMap((v) => (v.kind === 'constant' ? [v.constant] : []));
    const folded = inputs.length > 0 && constants.length === inputs.length ? foldConstant(node, constants) : undefined;
    if (folded) return { kind: 'constant', constant: folded };
    // A layer fed by values the reader cannot follow has no node to carry it: say so rather than drop it silently.
    if (LAYER_OPS.has(node.op) && inputs.some((v) => v.kind === 'opaque')) this.unreachedLayers.push(node.name);
    return { kind: 'opaque', why: `${node.op} "${node.name}" of constants was not evaluated` };
  }

  /** The Placeholder's shape attr, else the signature's; -1 dims are dynamic. */
  private placeholderShape(node: GraphNode): (number | null)[] | undefined {
    const fromAttr = attrShape(node, 'shape');
    if (fromAttr) return fromAttr;
    const inputs = this.signature('inputs');
    const entry = inputs?.[`${node.name}:0`] ?? inputs?.[node.name];
    return isObject(entry) ? parseShapeProto(entry.tensorShape) : undefined;
  }

  /** IR tensors named by signature.outputs; undefined (every unconsumed tensor) when there is none. */
  private signatureOutputs(): string[] | undefined {
    const outputs = this.signature('outputs');
    if (!outputs) return undefined;
    const names = Object.entries(outputs).map(([key, entry]) => (isObject(entry) && typeof entry.name === 'string' ? entry.name : key));
    const tensors = names.map((name) => this.values.get(tensorKey(parseTensorName(name)))).flatMap((v) => (v?.kind === 'tensor' ? [v.tensor] : []));
    return tensors.length > 0 ? [...new Set(tensors)] : undefined;
  }

  private signature(key: 'inputs' | 'outputs'): Record<string, unknown> | undefined {
    const signature = this.parts.root.signature;
    const entries = isObject(signature) ? signature[key] : undefined;
    return isObject(entries) ? entries : undefined;
  }

  private producer(): string | undefined {
    const { root, topology } = this.parts;
    const versions = isObject(topology.versions) ? topology.versions : {};
    const parts = [
      typeof root.convertedBy === 'string' ? root.convertedBy : undefined,
      typeof root.generatedBy === 'string' ? `TensorFlow ${root.generatedBy}` : undefined,
      versions.producer !== undefined ? `GraphDef producer ${String(versions.producer)}` : undefined,
    ];
    return parts.filter((p) => p !== undefined).join(', ') || undefined;
  }
}

/**
 * A TF1 while loop feeds each iteration's values back through NextIteration into the Merge at the top of its frame:
 * the only cycles a valid GraphDef has. Ordering ignores these edges; the frame's ops become unsupported nodes.
 */
function isLoopBackEdge(node: GraphNode, source: GraphNode | undefined): boolean {
  return (node.op === 'Merge' || node.op === 'RefMerge') && (source?.op === 'NextIteration' || source?.op === 'RefNextIteration');
}

/** Ops with weights that the analysis is about. */
const LAYER_OPS = new Set(['Conv2D', '_FusedConv2D', 'DepthwiseConv2dNative', 'FusedDepthwiseConv2dNative', 'MatMul', '_FusedMatMul']);

/** Ops whose data_format says how they read 4-D tensors. */
const LAYOUT_OPS = new Set([
  'Conv2D',
  '_FusedConv2D',
  'DepthwiseConv2dNative',
  'FusedDepthwiseConv2dNative',
  'MaxPool',
  'AvgPool',
  'FusedBatchNorm',
  'FusedBatchNormV2',
  'FusedBatchNormV3',
]);

/**
 * The layout most of the model's convolutions and poolings use (their data_format, NHWC when absent, as in TF);
 * the others are wrapped in transposes (graphOps.inModelLayout). NHWC on a tie.
 */
function modelLayout(nodes: readonly GraphNode[]): TfLayout {
  let nchw = 0;
  let nhwc = 0;
  for (const node of nodes) {
    if (!LAYOUT_OPS.has(node.op)) continue;
    if (attrString(node, 'data_format') === 'NCHW') nchw++;
    else nhwc++;
  }
  return nchw > nhwc ? 'NCHW' : 'NHWC';
}

/** The output shape TF recorded for a node (`_output_shapes`), dynamic dims read as 1; for unsupported ops. */
function outputShapeHint(node: GraphNode): Shape | undefined {
  const attr = node.attr._output_shapes;
  const list = isObject(attr) && isObject(attr.list) && Array.isArray(attr.list.shape) ? attr.list.shape : undefined;
  const dims = list && parseShapeProto(list[0]);
  return dims?.map((d) => d ?? 1);
}
