// The layer listing of one model file (`leaklint layers`, the extension's reader view): what the reader understood,
// before any analysis.
import type { LeakLintConfig } from '../config';
import { buildLayerListing, type LayerListing } from '../reports/layers';
import { readJobModel, type Trust } from './audit';
import type { Failed, JobContext } from './types';

export type LayersOutcome = { kind: 'layers'; listing: LayerListing } | Failed;

export async function layersOfFile(file: string, config: Pick<LeakLintConfig, 'inputShape'>, context: JobContext & Trust): Promise<LayersOutcome> {
  const read = await readJobModel(file, config, context);
  return 'failure' in read ? { kind: 'failure', failure: read.failure } : { kind: 'layers', listing: buildLayerListing(read.graph) };
}
