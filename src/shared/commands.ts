// Every command, view and setting id the extension contributes, in one table: package.json declares the same ids
// (a unit test checks both ways), the extension registers its handlers by these names, and tests run them by name.

export const Commands = {
  auditWorkspace: 'leaklint.auditWorkspace',
  auditCurrentModel: 'leaklint.auditCurrentModel',
  showReconstructions: 'leaklint.showReconstructions',
  /** The attack on gradients a client shared (a .safetensors file), like `leaklint attack --gradients`. */
  reconstructFromGradients: 'leaklint.reconstructFromGradients',
  openLayerDocument: 'leaklint.openLayerDocument',
  exportReport: 'leaklint.exportReport',
  restartRuntime: 'leaklint.restartRuntime',
  showLayers: 'leaklint.showLayers',
  explainLayer: 'leaklint.explainLayer',
  /** A model (and optionally one of its layers, selected and revealed) in the Layer View. */
  openInLayerView: 'leaklint.openInLayerView',
  /** Adds the model to `ignore` (leaklint.config.json, or the leaklint.ignore setting). */
  ignoreModel: 'leaklint.ignoreModel',
  /** Sets a rule to "off" for the workspace (leaklint.config.json, or the leaklint.rules setting). */
  disableRule: 'leaklint.disableRule',
  /** A fix the engine proved, with its predicted metrics, as a read-only document. */
  showProposedChange: 'leaklint.showProposedChange',
  /** Picks one of the workspace's models and opens it (the walkthrough's first step). */
  openModel: 'leaklint.openModel',
} as const;

export type CommandId = (typeof Commands)[keyof typeof Commands];

export const Views = {
  /** The ONNX custom editor. */
  layerView: 'leaklint.layerView',
  /** The same layer table in a webview panel, for models that open as text (TF.js model.json). */
  layerPanel: 'leaklint.layerPanel',
  /** The Show Reconstructions webview panel. */
  reconstructions: 'leaklint.reconstructions',
  /** The activity bar's view container and its tree of models, layers and findings. */
  container: 'leaklint',
  models: 'leaklint.models',
} as const;

/** The walkthrough's id inside package.json (VS Code addresses it as `<publisher>.<name>#<id>`). */
export const WALKTHROUGH_ID = 'leaklint.start';

/** The `leaklint.*` settings, by their key in leaklint.config.json (the extension reads `leaklint.<key>`). */
export const SETTING_KEYS = [
  'failOn',
  'thresholds',
  'ignore',
  'rules',
  'inputShape',
  'surrogateWeights',
  'fixes',
  'quick',
  'identifiability',
  'attack',
] as const;

/**
 * Settings of the extension alone, not keys of leaklint.config.json (the CLI has flags for some of them):
 * `scanWorkspace` turns the background analysis of every model of the workspace on start-up on or off;
 * `configFile` names the configuration file (`--config`); `export.*` are Export Report's SARIF level and baseline
 * (`--sarif-min-level`, `--baseline`).
 */
export const EXTENSION_SETTING_KEYS = ['scanWorkspace', 'configFile', 'export.sarifMinLevel', 'export.baseline'] as const;
