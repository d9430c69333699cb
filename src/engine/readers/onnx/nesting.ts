// A pre-scan of the ONNX wire format that bounds nesting before protobufjs decodes the file. The generated decoder
// recurses once per nested message (GraphProto → NodeProto → AttributeProto → GraphProto, TypeProto → Sequence →
// TypeProto, groups), so a few kilobytes of nesting would overflow the stack; this scan walks the same messages with
// an explicit stack and refuses deep nesting with the reader's own message. Malformed bytes end the scan silently:
// the decoder then reports them as it always did.
import { ModelReadError } from '../../errors';

/** Deepest subgraph nesting (If branches, Loop bodies) accepted; the main graph is depth 0. */
export const MAX_SUBGRAPH_DEPTH = 32;

/** Deepest TypeProto nesting (sequence of map of optional ...) accepted; real models use two or three levels. */
export const MAX_TYPE_DEPTH = 32;
/** Deepest group nesting (wire types 3/4, unused by ONNX) accepted; protobufjs skips groups recursively. */
const MAX_GROUP_DEPTH = 32;

type MessageKind = 'model' | 'training' | 'function' | 'graph' | 'node' | 'attribute' | 'valueInfo' | 'type' | 'typeChild';

/** The fields that lead (possibly recursively) to a graph or a type; every other field is skipped by its length. */
const CHILDREN: Record<MessageKind, Record<number, MessageKind>> = {
  model: { 7: 'graph', 20: 'training', 25: 'function' },
  training: { 1: 'graph', 2: 'graph' },
  function: { 7: 'node' },
  graph: { 1: 'node', 11: 'valueInfo', 12: 'valueInfo', 13: 'valueInfo' },
  node: { 5: 'attribute' },
  attribute: { 6: 'graph', 11: 'graph', 14: 'type', 15: 'type' },
  valueInfo: { 2: 'type' },
  // TypeProto.sequence_type / map_type / optional_type, whose element or value type is a TypeProto again.
  type: { 4: 'typeChild', 5: 'typeChild', 9: 'typeChild' },
  // Sequence.elem_type (1), Map.value_type (2), Optional.elem_type (1).
  typeChild: { 1: 'type', 2: 'type' },
};

/** GraphProto.name */
const GRAPH_NAME_FIELD = 2;

interface Frame {
  kind: MessageKind;
  end: number;
  /** GraphProtos enclosing this message, itself included (the main graph is depth 0). */
  graphDepth: number;
  typeDepth: number;
}

class Malformed extends Error {}

class WireReader {
  pos = 0;
  constructor(readonly bytes: Uint8Array) {}

  varint(): number {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.bytes.length) throw new Malformed();
      const byte = this.bytes[this.pos++]!;
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) return value;
      scale *= 128;
    }
    throw new Malformed();
  }

  skip(count: number, end: number): void {
    if (!Number.isSafeInteger(count) || this.pos + count > end) throw new Malformed();
    this.pos += count;
  }
}

/** Throws the reader's ModelReadError when graphs, types or groups nest deeper than the reader accepts. */
export function checkNesting(bytes: Uint8Array, file: string): void {
  try {
    scan(bytes, file);
  } catch (e) {
    if (!(e instanceof Malformed)) throw e;
  }
}

function scan(bytes: Uint8Array, file: string): void {
  const reader = new WireReader(bytes);
  const stack: Frame[] = [{ kind: 'model', end: bytes.length, graphDepth: -1, typeDepth: 0 }];
  let groupDepth = 0;
  while (stack.length > 0) {
    const frame = stack[stack.length - 1]!;
    if (reader.pos >= frame.end) {
      if (reader.pos > frame.end) throw new Malformed();
      stack.pop();
      continue;
    }
    const tag = reader.varint();
    const field = Math.floor(tag / 8);
    switch (tag % 8) {
      case 0:
        reader.varint();
        break;
      case 1:
        reader.skip(8, frame.end);
        break;
      case 5:
        reader.skip(4, frame.end);
        break;
      case 3:
        if (++groupDepth > MAX_GROUP_DEPTH) {
          throw new ModelReadError('invalid-model', file, `byte ${reader.pos}`, `protobuf groups are nested more than ${MAX_GROUP_DEPTH} deep`);
        }
        break;
      case 4:
        groupDepth = Math.max(0, groupDepth - 1);
        break;
      case 2: {
        const length = reader.varint();
        const start = reader.pos;
        reader.skip(length, frame.end);
        const child = CHILDREN[frame.kind][field];
        if (child) {
          // Descend: the child's fields are read next, and its frame ends where it ends.
          stack.push(enter(child, frame, start, start + length, bytes, file));
          reader.pos = start;
        }
        break;
      }
      default:
        throw new Malformed();
    }
  }
}

/** The frame of a nested message at bytes [start, end), after checking how deep it is. */
function enter(kind: MessageKind, parent: Frame, start: number, end: number, bytes: Uint8Array, file: string): Frame {
  const graphDepth = parent.graphDepth + (kind === 'graph' ? 1 : 0);
  // A function body is a graph of its own: its subgraphs count from it, like those of the main graph.
  const frame: Frame = { kind, end, graphDepth: kind === 'function' ? 0 : graphDepth, typeDepth: parent.typeDepth + (kind === 'type' ? 1 : 0) };
  if (kind === 'graph' && graphDepth > MAX_SUBGRAPH_DEPTH) throw subgraphTooDeep(file, graphName(bytes, start, end));
  if (frame.typeDepth > MAX_TYPE_DEPTH) {
    throw new ModelReadError('invalid-model', file, `byte ${start}`, `tensor types are nested more than ${MAX_TYPE_DEPTH} deep`);
  }
  return frame;
}

/** The error for a graph nested deeper than MAX_SUBGRAPH_DEPTH, the same whether the scan or the graph walk finds it. */
export function subgraphTooDeep(file: string, graphName: string): ModelReadError {
  return new ModelReadError('invalid-model', file, `graph "${graphName}"`, `subgraphs are nested more than ${MAX_SUBGRAPH_DEPTH} deep`);
}

/** GraphProto.name of the graph at bytes [start, end), read without descending into its fields. */
function graphName(bytes: Uint8Array, start: number, end: number): string {
  const reader = new WireReader(bytes.subarray(0, end));
  reader.pos = start;
  try {
    while (reader.pos < end) {
      const tag = reader.varint();
      const wireType = tag % 8;
      if (wireType === 0) reader.varint();
      else if (wireType === 1) reader.skip(8, end);
      else if (wireType === 5) reader.skip(4, end);
      else if (wireType === 2) {
        const length = reader.varint();
        const from = reader.pos;
        reader.skip(length, end);
        if (Math.floor(tag / 8) === GRAPH_NAME_FIELD) return new TextDecoder().decode(bytes.subarray(from, from + length));
      } else if (wireType !== 3 && wireType !== 4) break;
    }
  } catch (e) {
    if (!(e instanceof Malformed)) throw e;
  }
  return '';
}
