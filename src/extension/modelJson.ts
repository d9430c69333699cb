// Small reads of a TF.js model.json's text in the extension host: offsets to positions, and which shard holds a
// layer's weights. The model itself is read by the engine in the background runtime; these only look at the
// manifest, and not at all in files too large to scan without blocking the host.
import { findNodeAtLocation, getNodeValue, parseTree } from 'jsonc-parser';
import * as vscode from 'vscode';

/** model.json files larger than this get no shard links (parsing them would block the extension host). */
const MAX_MANIFEST_SCAN_CHARS = 8 * 1024 * 1024;

/** Offsets (UTF-16 code units, as in the engine's SourceLocation) to positions, for text that is not open. */
export class TextPositions {
  private readonly lineStarts: number[] = [0];

  constructor(text: string) {
    for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) this.lineStarts.push(i + 1);
  }

  at(offset: number): vscode.Position {
    let low = 0;
    let high = this.lineStarts.length - 1;
    while (low < high) {
      const mid = (low + high + 1) >> 1;
      if (this.lineStarts[mid] <= offset) low = mid;
      else high = mid - 1;
    }
    return new vscode.Position(low, offset - this.lineStarts[low]);
  }
}

interface ManifestWeight {
  name: string;
  shape: number[];
  dtype: string;
  quantization?: { dtype: string };
}

const BYTES_PER_ELEMENT: Record<string, number> = { float32: 4, int32: 4, float16: 2, uint16: 2, uint8: 1, bool: 1, complex64: 8 };

/**
 * The shard file holding the first weight of `layerName` (weights are named "<layer>/kernel" in layers models and
 * contain "/<layer>/" in graph models). Shard sizes are inferred, not read: the host does not stat the shards.
 */
export function weightShardOf(text: string, model: vscode.Uri, layerName: string): vscode.Uri | undefined {
  if (text.length > MAX_MANIFEST_SCAN_CHARS || !layerName) return undefined;
  try {
    const tree = parseTree(text);
    const manifest = tree && findNodeAtLocation(tree, ['weightsManifest']);
    const groups = manifest ? (getNodeValue(manifest) as { paths?: string[]; weights?: ManifestWeight[] }[]) : undefined;
    if (!Array.isArray(groups)) return undefined;
    for (const group of groups) {
      const paths = group.paths ?? [];
      let offset = 0;
      for (const weight of group.weights ?? []) {
        if (weight.name.startsWith(`${layerName}/`) || weight.name.includes(`/${layerName}/`)) {
          const total = (group.weights ?? []).reduce((sum, w) => sum + byteSize(w), 0);
          const shardBytes = shardSize(total, paths.length);
          const shard = paths[Math.min(paths.length - 1, Math.floor(offset / shardBytes))];
          return shard ? vscode.Uri.joinPath(model, '..', shard) : undefined;
        }
        offset += byteSize(weight);
      }
    }
  } catch {
    // A malformed manifest is the engine's finding to report; no link here.
  }
  return undefined;
}

function byteSize(weight: ManifestWeight): number {
  const elements = (weight.shape ?? []).reduce((n, d) => n * d, 1);
  return elements * (BYTES_PER_ELEMENT[weight.quantization?.dtype ?? weight.dtype] ?? 4);
}

/** The tfjs converter cuts shards of 4 MiB (the last one shorter); other writers cut equal shards. */
function shardSize(totalBytes: number, shards: number): number {
  const converterShard = 4 * 1024 * 1024;
  if (shards <= 1) return Infinity;
  return totalBytes > converterShard * (shards - 1) && totalBytes <= converterShard * shards ? converterShard : Math.ceil(totalBytes / shards);
}
