// Every command, view and setting id the extension contributes, in one table: package.json declares the same ids
// (a unit test checks both ways), the extension registers its handlers by these names, and tests run them by name.

export const Commands = {
  auditWorkspace: 'leaklint.auditWorkspace',
  auditCurrentModel: 'leaklint.auditCurrentModel',
  showReconstructions: 'leaklint.showReconstructions',
  openLayerDocument: 'leaklint.openLayerDocument',
  exportReport: 'leaklint.exportReport',
  restartRuntime: 'leaklint.restartRuntime',
  showLayers: 'leaklint.showLayers',
  explainLayer: 'leaklint.explainLayer',
} as const;

export type CommandId = (typeof Commands)[keyof typeof Commands];

export const Views = {
  /** The ONNX custom editor. */
  layerView: 'leaklint.layerView',
  /** The Show Reconstructions webview panel. */
  reconstructions: 'leaklint.reconstructions',
} as const;

/** The `leaklint.*` settings, by their key in leaklint.config.json (the extension reads `leaklint.<key>`). */
export const SETTING_KEYS = ['failOn', 'thresholds', 'ignore', 'rules', 'inputShape', 'surrogateWeights', 'fixes', 'quick', 'attack'] as const;
