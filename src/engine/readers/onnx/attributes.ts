// Typed access to a node's attributes. Values are read from the field the caller asks for: old exporters do not
// always set AttributeProto.type.
import type { onnx } from 'onnx-proto';
import { toNumber } from './protobuf';

const utf8 = new TextDecoder();

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
