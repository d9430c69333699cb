// Numbers the UI shows that the engine does not define itself.
import type { ModelReport } from '../engine';

/** 0–100, higher is safer: 100 × (1 − model risk), rounded. Shown in the status bar and the layer document. */
export function securityScore(report: ModelReport): number {
  return Math.round(100 * (1 - report.model.risk));
}
