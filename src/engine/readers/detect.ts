// Which files are models: ONNX by extension, TF.js model.json files by content. Shared by the CLI's folder
// discovery and the extension's workspace scan, so both pick the same files.
import { visit } from 'jsonc-parser';
import { decodeUtf8, type FileAccess } from '../files/fileAccess';

/** Enough of a model.json to see its top-level keys (they come before the large topology and manifest values). */
const JSON_SNIFF_BYTES = 8 * 1024;

/** ONNX by extension; a .json file only if its content is a TF.js model (package.json and friends are not). */
export async function isModelFile(files: FileAccess, file: string): Promise<boolean> {
  const lower = file.toLowerCase();
  if (lower.endsWith('.onnx')) return true;
  if (!lower.endsWith('.json')) return false;
  const head = await files.readRange(file, 0, JSON_SNIFF_BYTES).then(decodeUtf8, () => undefined);
  return head !== undefined && looksLikeTfjsModel(head.replace(/^\uFEFF/, ''));
}

/**
 * True when the JSON text (possibly cut short) is an object with a top-level "modelTopology", a "weightsManifest"
 * together with "format", or "format": "graph-model" / "layers-model" (TF.js models as written by the converter and
 * by tf.io).
 */
export function looksLikeTfjsModel(text: string): boolean {
  const keys = new Set<string>();
  let formatValue: unknown;
  if (!/^\s*\{/.test(text)) return false;
  visit(text, {
    onObjectBegin: (_offset, _length, _line, _column, pathSupplier) => pathSupplier().length === 0,
    onArrayBegin: () => false,
    onObjectProperty: (property, _offset, _length, _line, _column, pathSupplier) => {
      if (pathSupplier().length === 0) keys.add(property);
    },
    onLiteralValue: (value, _offset, _length, _line, _column, pathSupplier) => {
      const at = pathSupplier();
      if (at.length === 1 && at[0] === 'format') formatValue = value;
    },
  });
  // The converter writes "format" first and a graph model's "modelTopology" after a long "signature", often beyond
  // the sniffed head: the format value alone identifies it.
  return keys.has('modelTopology') || (keys.has('weightsManifest') && keys.has('format')) || formatValue === 'graph-model' || formatValue === 'layers-model';
}
