// What an operator converter sees of one ONNX node, and what it returns.
import type { onnx } from 'onnx-proto';
import type { NodeAttrs, NodeWeights, OpKind, Shape } from '../../ir';
import { sizeOf } from '../../ir';
import { Attributes } from './attributes';
import { mismatch } from './shapeMath';
import type { ConstTensor, TensorContext } from './tensors';

/** What a tensor name stands for while the graph is walked. */
export type Value =
  | { kind: 'activation'; shape: Shape }
  /** An activation whose shape could not be inferred; `reason` becomes the note of every node that reads it. */
  | { kind: 'unknown'; reason: string }
  | { kind: 'constant'; tensor: ConstTensor };

/** A node of the layer graph, before ids, names and locations are attached. */
export interface LayerSpec {
  op: OpKind;
  attrs?: NodeAttrs;
  weights?: NodeWeights;
  /** Shapes of the node's first outputs (undefined: not inferable); later outputs (masks, indices) are not modelled. */
  outputShapes: (Shape | undefined)[];
  note?: string;
}

/** A node computing only on constants vanishes: its outputs become constants. */
export interface Folded {
  folded: ConstTensor[];
}

export type Outcome = LayerSpec | Folded;

export type Converter = (node: NodeView) => Outcome;

export function unsupported(note: string, outputShapes: (Shape | undefined)[] = [undefined]): LayerSpec {
  return { op: 'unsupported', note, outputShapes };
}

/** Largest constant read as a list of integers (shape inputs, axes, pads): these are tiny in any real model. */
const MAX_INTEGER_LIST = 4096;

export class NodeView {
  readonly attrs: Attributes;
  readonly opType: string;

  constructor(
    readonly proto: onnx.INodeProto,
    readonly index: number,
    /** "node 12 (conv1)", for messages. */
    readonly where: string,
    readonly opset: number,
    readonly limits: TensorContext,
    /** Input values by position; undefined for absent optional inputs. */
    readonly inputs: readonly (Value | undefined)[],
  ) {
    this.attrs = new Attributes(proto.attribute);
    this.opType = proto.opType ?? '';
  }

  get inputCount(): number {
    return this.inputs.length;
  }

  /** Output tensor names (absent optional outputs are empty strings). */
  get outputNames(): string[] {
    return this.proto.output ?? [];
  }

  input(i: number): Value | undefined {
    return this.inputs[i];
  }

  /** The constant behind input i, or undefined when it is absent or computed at run time. */
  constant(i: number): ConstTensor | undefined {
    const value = this.inputs[i];
    return value?.kind === 'constant' ? value.tensor : undefined;
  }

  /** Shape of input i, activation or constant. */
  shapeOf(i: number): Shape {
    const value = this.inputs[i];
    if (value?.kind === 'activation') return value.shape;
    if (value?.kind === 'constant') return value.tensor.shape;
    return mismatch(`input ${i} is ${value ? 'of unknown shape' : 'missing'}`);
  }

  /** Values of a small constant input as integers, or undefined when the input is absent or not constant. */
  constantInts(i: number): number[] | undefined {
    const tensor = this.constant(i);
    if (!tensor) return undefined;
    const values = this.smallValues(tensor, i);
    if (values.some((v) => !Number.isInteger(v))) mismatch(`input ${i} should hold integers`);
    return values;
  }

  /** Single value of a constant scalar input (or one-element tensor). */
  constantScalar(i: number): number | undefined {
    const tensor = this.constant(i);
    if (!tensor) return undefined;
    const values = this.smallValues(tensor, i);
    if (values.length !== 1) mismatch(`input ${i} should be a single value, not ${values.length}`);
    return values[0];
  }

  /**
   * Integer parameters that moved from an attribute to an input in opset `inputSince` (Squeeze axes, Pad pads,
   * Slice starts...). undefined when absent; `dynamic` when given by a run-time input.
   */
  intsParameter(attribute: string, inputIndex: number, inputSince: number): number[] | undefined | 'dynamic' {
    if (this.opset < inputSince) return this.attrs.ints(attribute);
    if (this.inputs[inputIndex] === undefined) return undefined;
    return this.constantInts(inputIndex) ?? 'dynamic';
  }

  private smallValues(tensor: ConstTensor, i: number): number[] {
    const count = sizeOf(tensor.shape);
    if (count > MAX_INTEGER_LIST) mismatch(`input ${i} has ${count} values where a short list is expected`);
    return Array.from(tensor.values());
  }
}
