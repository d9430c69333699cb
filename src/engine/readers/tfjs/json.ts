// model.json parsing with jsonc-parser: the readers work on plain values, but every object and array remembers
// where it sits in the text, so that each IR node can point back at its layer or node object.
import { parseTree, printParseErrorCode, type Node, type ParseError } from 'jsonc-parser';
import { ModelReadError } from '../../errors';
import type { SourceLocation, TextPosition, TextRange } from '../../ir';

export type JsonObject = { [key: string]: unknown };
export type JsonLocation = Extract<SourceLocation, { format: 'json' }>;

export interface ModelJson {
  root: unknown;
  /** Location of an object or array of `root` (every object and array has one). */
  locate(value: object): JsonLocation;
}

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Parses strict JSON (no comments, no trailing commas); invalid text is 'not-a-model' with its line and column. */
export function parseModelJson(file: string, text: string): ModelJson {
  // A byte-order mark is not JSON; blank it rather than strip it so offsets stay those of the file.
  const source = text.charCodeAt(0) === 0xfeff ? ' ' + text.slice(1) : text;
  const errors: ParseError[] = [];
  const origins = new WeakMap<object, Origin>();
  let tree: Node | undefined;
  let root: unknown;
  try {
    tree = parseTree(source, errors, { disallowComments: true, allowTrailingComma: false, allowEmptyContent: false });
    if (errors.length === 0 && tree) root = toValue(tree, origins);
  } catch (e) {
    if (e instanceof RangeError) throw new ModelReadError('not-a-model', file, '', 'JSON nested too deeply to read');
    throw e;
  }
  if (errors.length > 0 || !tree) {
    const first = errors[0];
    const { line, column } = lineAndColumn(source, first?.offset ?? 0);
    const what = first ? describeParseError(first) : 'no JSON value';
    throw new ModelReadError('not-a-model', file, `line ${line}, column ${column}`, `invalid JSON: ${what}`);
  }
  const lines = new LineIndex(source);
  return {
    root,
    locate(value) {
      const origin = origins.get(value);
      if (!origin) throw new Error('locate: value does not come from this model.json');
      const jsonPath: (string | number)[] = [];
      for (let at: Origin | undefined = origin; at?.parent; at = origins.get(at.parent)) jsonPath.unshift(at.key!);
      const { offset, length } = origin.node;
      const focusNode = focusOf(origin.node);
      const focus = focusNode && { offset: focusNode.offset, length: focusNode.length, ...lines.range(focusNode.offset, focusNode.length) };
      return { format: 'json', offset, length, jsonPath, range: lines.range(offset, length), ...(focus ? { focus } : {}) };
    },
  };
}

/** Offsets to 0-based lines and columns (line starts found once per file). */
class LineIndex {
  private readonly starts: number[] = [0];

  constructor(text: string) {
    for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) this.starts.push(i + 1);
  }

  position(offset: number): TextPosition {
    let low = 0;
    let high = this.starts.length - 1;
    while (low < high) {
      const mid = (low + high + 1) >> 1;
      if (this.starts[mid] <= offset) low = mid;
      else high = mid - 1;
    }
    return { line: low, character: offset - this.starts[low] };
  }

  range(offset: number, length: number): TextRange {
    return { start: this.position(offset), end: this.position(offset + length) };
  }
}

/** The value a finding on this object points at: its "name" (graph nodes, Keras configs) or else its "class_name". */
function focusOf(node: Node): Node | undefined {
  const property = (object: Node | undefined, key: string) =>
    object?.type === 'object' ? object.children?.find((p) => p.children?.[0]?.value === key)?.children?.[1] : undefined;
  const named = (n: Node | undefined) => (n?.type === 'string' ? n : undefined);
  return named(property(node, 'name')) ?? named(property(property(node, 'config'), 'name')) ?? named(property(node, 'class_name'));
}

/** 1-based line and column of a UTF-16 offset. */
export function lineAndColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}

/** "modelTopology.node[3]" for diagnostics. */
/** "modelTopology.node[3] (conv1)": an error's place, from a location already looked up. */
export function whereAt(location: JsonLocation, name: string): string {
  return `${formatJsonPath(location.jsonPath)} (${name})`;
}

export function formatJsonPath(jsonPath: readonly (string | number)[]): string {
  let out = '';
  for (const part of jsonPath) out += typeof part === 'number' ? `[${part}]` : out ? `.${part}` : part;
  return out;
}

function describeParseError(error: ParseError): string {
  // "CommaExpected" → "comma expected"
  return printParseErrorCode(error.error)
    .replace(/(?<=[a-z])(?=[A-Z])/g, ' ')
    .toLowerCase();
}

/** Where an object or array sits: its tree node, and its container and key (jsonc-parser's own path lookup is
 * linear in the number of siblings, quadratic over a large graph). */
interface Origin {
  node: Node;
  parent?: object;
  key?: string | number;
}

function toValue(node: Node, origins: WeakMap<object, Origin>, parent?: object, key?: string | number): unknown {
  switch (node.type) {
    case 'object': {
      const obj: JsonObject = {};
      origins.set(obj, { node, parent, key });
      for (const property of node.children ?? []) {
        const [name, value] = property.children ?? [];
        if (!name || !value) continue;
        const field = String(name.value);
        // defineProperty: a "__proto__" key must stay a plain key, not replace the prototype.
        Object.defineProperty(obj, field, { value: toValue(value, origins, obj, field), enumerable: true, writable: true, configurable: true });
      }
      return obj;
    }
    case 'array': {
      const arr: unknown[] = [];
      origins.set(arr, { node, parent, key });
      (node.children ?? []).forEach((child, i) => arr.push(toValue(child, origins, arr, i)));
      return arr;
    }
    default:
      return node.value;
  }
}
