// Typed access to a node's attributes. Values are read from the field the caller asks for: old exporters do not
// always set AttributeProto.type.
import type { onnx } from 'onnx-proto';
import { toNumber } from './protobuf';

const utf8 = new TextDecoder();

/** An attribute value the operator's definition rules out; the graph builder makes it a located 'invalid-model' error. */
export class InvalidAttribute extends Error {}

export class Attributes {
  private readonly byName = new Map<string, onnx.IAttributeProto>();

  constructor(list: readonly onnx.IAttributeProto[] | null | undefined) {
    for (const attr of list ?? []) if (attr.name) this.byName.set(attr.name, attr);
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  int(name: string, fallback: number): number {
    const attr = this.byName.get(name);
    return attr ? toNumber(attr.i) : fallback;
  }

  ints(name: string): number[] | undefined {
    const attr = this.byName.get(name);
    return attr ? (attr.ints ?? []).map(toNumber) : undefined;
  }

  /** A boolean written as an int: only 0 and 1 are valid (a transB of 5 must not pass as "not transposed"). */
  flag(name: string, fallback: boolean): boolean {
    if (!this.byName.has(name)) return fallback;
    const value = this.int(name, 0);
    if (value !== 0 && value !== 1) throw new InvalidAttribute(`${name}=${value} must be 0 or 1`);
    return value === 1;
  }

  /** A float that must be finite and at least `min` (scales, slopes, epsilons). */
  finite(name: string, fallback: number, min = -Infinity): number {
    const value = this.float(name, fallback);
    if (!Number.isFinite(value) || value < min) {
      throw new InvalidAttribute(`${name}=${value} must be a finite number${min > -Infinity ? ` of at least ${min}` : ''}`);
    }
    return value;
  }

  float(name: string, fallback: number): number {
    const attr = this.byName.get(name);
    return attr ? (attr.f ?? 0) : fallback;
  }

  floats(name: string): number[] | undefined {
    const attr = this.byName.get(name);
    return attr ? [...(attr.floats ?? [])] : undefined;
  }

  string(name: string, fallback: string): string {
    const attr = this.byName.get(name);
    return attr?.s ? utf8.decode(attr.s) : fallback;
  }

  tensor(name: string): onnx.ITensorProto | undefined {
    return this.byName.get(name)?.t ?? undefined;
  }
}
