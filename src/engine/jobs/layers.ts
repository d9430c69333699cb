// The layer listing of one model file (`leaklint layers`, the extension's reader view): what the reader understood,
// before any analysis.
import type { LeakLintConfig } from '../config';
import { readModel } from '../readers';
import { buildLayerListing, type LayerListing } from '../reports/layers';
import { readOptionsOf, type Trust } from './audit';
import { toModelFailure, type Failed, type JobContext } from './types';

export type LayersOutcome = { kind: 'layers'; listing: LayerListing } | Failed;

export async function layersOfFile(file: string, config: Pick<LeakLintConfig, 'inputShape'>, context: JobContext & Trust): Promise<LayersOutcome> {
  try {
    return { kind: 'layers', listing: buildLayerListing(await readModel(context.files, file, readOptionsOf(config, context))) };
  } catch (e) {
    return { kind: 'failure', failure: toModelFailure(file, e, 'reading') };
  }
}
