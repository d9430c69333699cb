// "Show Reconstructions" (and "Reconstruct from Shared Gradients", the attack on a .safetensors file a client shared,
// like `leaklint attack --gradients`): a webview per model (and shared-gradients file) that runs the reconstruction
// attack in the background runtime, with
// live progress and a cancel button (while gradient matching runs: its loss curve and the current image), and shows
// each sample image beside its reconstruction and the method that made it. Images are PNGs the runtime writes under
// the extension's storage folder, loaded through asWebviewUri; the live image is a small PNG in a data: URI. The model
// never reaches the webview. The panel keeps its state in the webview (getState/setState) and is restored by a
// serializer.
import { createHash } from 'crypto';
import * as path from 'path';
import * as vscode from 'vscode';
import { ATTACK_DEFAULTS, attackOptionsOf, type AttackJobOptions, type AttackReport, type MatchingProgress } from '../engine';
import { Views } from '../shared/commands';
import type { HostToView, ViewImage, ViewLive, ViewState, ViewToHost } from '../shared/webviewProtocol';
import { MANAGE_TRUST_COMMAND, RESTRICTED_ATTACK_REASON } from './layerInsights';
import type { ModelAnalyses } from './modelAnalyses';
import { bundledSamplesFolder, type RuntimeClient } from './runtime';
import { configFor } from './settings';
import { webviewHtml, webviewOptions } from './webviewHtml';

/** Gradients a client shared, and optionally the image they came from (to measure the reconstruction against). */
export interface SharedGradients {
  gradients: vscode.Uri;
  image?: vscode.Uri;
}

/** One panel per model, and per shared-gradients file. */
function panelKey(model: vscode.Uri, shared: SharedGradients | undefined): string {
  return shared ? `${model.toString()}\n${shared.gradients.toString()}` : model.toString();
}

function panelTitle(model: vscode.Uri, shared: SharedGradients | undefined): string {
  return `Reconstructions: ${path.basename(model.fsPath)}${shared ? ` ← ${path.basename(shared.gradients.fsPath)}` : ''}`;
}

function sharedState(shared: SharedGradients | undefined): Pick<ViewState, 'shared'> {
  if (!shared) return {};
  return {
    shared: {
      gradients: shared.gradients.toString(),
      gradientsName: path.basename(shared.gradients.fsPath),
      ...(shared.image ? { image: shared.image.toString(), imageName: path.basename(shared.image.fsPath) } : {}),
    },
  };
}

function sharedOf(state: ViewState): SharedGradients | undefined {
  if (!state.shared) return undefined;
  return { gradients: vscode.Uri.parse(state.shared.gradients), ...(state.shared.image ? { image: vscode.Uri.parse(state.shared.image) } : {}) };
}

/** What the command returns (tests wait on `finished`). */
export interface ReconstructionView {
  readonly state: ViewState;
  /** Resolves when the current run ends (done, failed, cancelled, or not possible here). */
  readonly finished: Promise<ViewState>;
  /** What the view's Cancel button does. */
  cancel(): void;
}

class ReconstructionPanel implements ReconstructionView {
  state: ViewState;
  finished: Promise<ViewState>;
  private cancellation: vscode.CancellationTokenSource | undefined;
  private readonly disposables: vscode.Disposable[] = [];

  constructor(
    readonly panel: vscode.WebviewPanel,
    readonly model: vscode.Uri,
    readonly shared: SharedGradients | undefined,
    private readonly owner: ReconstructionPanels,
    restored?: ViewState,
  ) {
    this.state = restored ?? { model: model.toString(), modelName: path.basename(model.fsPath), ...sharedState(shared), phase: 'idle' };
    this.finished = Promise.resolve(this.state);
    panel.webview.options = webviewOptions(owner.context.extensionUri, [owner.storageRoot]);
    panel.webview.html = webviewHtml(panel.webview, owner.context.extensionUri, 'reconstructions', panelTitle(model, shared), this.state);
    this.disposables.push(
      panel.webview.onDidReceiveMessage((message: ViewToHost) => this.onMessage(message)),
      panel.onDidDispose(() => this.dispose()),
    );
  }

  private onMessage(message: ViewToHost) {
    if (message.type === 'ready') this.post();
    else if (message.type === 'run') this.run();
    else if (message.type === 'cancel') this.cancel();
    else if (message.type === 'manageTrust') void vscode.commands.executeCommand(MANAGE_TRUST_COMMAND);
    else if (message.type === 'error') this.owner.log.error(`reconstruction webview: ${message.message}`);
  }

  private update(state: Partial<ViewState>) {
    this.state = { ...this.state, ...state };
    this.post();
  }

  private post() {
    void this.panel.webview.postMessage({ type: 'state', state: this.state } satisfies HostToView);
  }

  cancel() {
    this.cancellation?.cancel();
  }

  /** Starts an attack unless one is running; returns the promise of its end. */
  run(): Promise<ViewState> {
    if (this.state.phase === 'running') return this.finished;
    this.finished = this.attack();
    return this.finished;
  }

  private async attack(): Promise<ViewState> {
    if (!vscode.workspace.isTrusted) {
      this.update({ phase: 'restricted', message: `${RESTRICTED_ATTACK_REASON} Static analysis still works.` });
      this.owner.log.info(`attack on ${this.model.fsPath} not run: Restricted Mode`);
      return this.state;
    }
    const cancellation = (this.cancellation = new vscode.CancellationTokenSource());
    const key = panelKey(this.model, this.shared);
    const outDir = vscode.Uri.joinPath(this.owner.storageRoot, createHash('sha1').update(key).digest('hex').slice(0, 12));
    const what = this.shared ? `${this.model.fsPath} from ${this.shared.gradients.fsPath}` : this.model.fsPath;
    this.update({
      phase: 'running',
      progress: { done: 0, total: 1, label: 'starting' },
      live: undefined,
      message: undefined,
      verdict: undefined,
      images: undefined,
    });
    const started = Date.now();
    this.owner.log.info(`attack on ${what}: started`);
    try {
      const config = await configFor(this.model);
      // Shared gradients are one training step: the image, if any, is the one it came from (`attack --gradients --image`).
      const shared: Partial<AttackJobOptions> = this.shared
        ? { gradientsFile: this.shared.gradients.fsPath, ...(this.shared.image ? { imageFiles: [this.shared.image.fsPath] } : {}) }
        : {};
      const options = attackOptionsOf(config, bundledSamplesFolder(this.owner.context), { previews: true, ...shared });
      this.update({ method: options.method });
      const timeBudgetMs = (config.attack?.timeBudgetSeconds ?? ATTACK_DEFAULTS.timeBudgetSeconds) * 1000;
      const outcome = await this.owner.runtime.attack(
        { file: this.model.fsPath, config, options, trusted: vscode.workspace.isTrusted },
        {
          onProgress: (done, total, label, detail) =>
            detail ? this.update({ live: nextLive(this.state.live, detail) }) : this.update({ progress: { done, total, label }, live: undefined }),
          cancellation: cancellation.token,
          timeBudgetMs,
        },
      );
      if (outcome.kind === 'failure') throw new Error(`${outcome.failure.where ? `${outcome.failure.where}: ` : ''}${outcome.failure.reason}`);
      if (outcome.kind === 'not-run') throw new Error(outcome.reason);
      // The images go to the extension's storage, where the webview may load them from.
      await vscode.workspace.fs.delete(outDir, { recursive: true, useTrash: false }).then(undefined, () => undefined);
      await vscode.workspace.fs.createDirectory(outDir);
      for (const file of outcome.files) await vscode.workspace.fs.writeFile(vscode.Uri.joinPath(outDir, ...file.path.split('/')), file.bytes);
      this.update({ phase: 'done', progress: undefined, live: undefined, ...this.viewOf(outcome.report, outDir) });
      this.owner.log.info(`attack on ${what}: done in ${((Date.now() - started) / 1000).toFixed(1)} s; ${outcome.report.verdict}`);
    } catch (e) {
      const cancelled = cancellation.token.isCancellationRequested;
      if (cancelled) this.owner.log.info(`attack on ${what}: cancelled`);
      else this.owner.log.error(`attack on ${what} failed: ${e instanceof Error ? e.message : String(e)}`);
      this.update({
        phase: cancelled ? 'cancelled' : 'failed',
        progress: undefined,
        live: undefined,
        message: cancelled ? 'Cancelled.' : e instanceof Error ? e.message : String(e),
      });
    } finally {
      cancellation.dispose();
      this.cancellation = undefined;
    }
    return this.state;
  }

  private viewOf(report: AttackReport, outDir: vscode.Uri): Partial<ViewState> {
    const src = (relative: string | undefined) =>
      relative ? this.panel.webview.asWebviewUri(vscode.Uri.joinPath(outDir, ...relative.split('/'))).toString() : undefined;
    const images = report.images.map((image): ViewImage => ({
      name: image.image,
      label: image.label,
      recoveredLabel: image.recoveredLabel,
      labelRecovered: image.labelRecovered,
      reachedInput: image.reachedInput,
      method: image.method,
      stoppedReason: image.stoppedAt?.reason,
      seconds: image.seconds.total,
      ...(image.gradientMatching
        ? {
            matching: {
              iterations: image.gradientMatching.iterations,
              runs: image.gradientMatching.runs,
              loss: image.gradientMatching.loss,
              curve: image.gradientMatching.curve,
              curveStride: image.gradientMatching.curveStride,
              seconds: image.gradientMatching.seconds,
              cutShort: image.gradientMatching.stoppedBy === 'time',
            },
          }
        : {}),
      // JSON has no Infinity: an exact reconstruction has PSNR null.
      psnr: image.quality ? (Number.isFinite(image.quality.clipped.psnr) ? image.quality.clipped.psnr : null) : undefined,
      ssim: image.quality?.clipped.ssim,
      originalSrc: src(image.files?.original),
      reconstructedSrc: src(image.files?.reconstructed),
      layers: image.layers.map((l) => ({ name: l.name, kind: l.kind, relativeResidual: l.relativeResidual, relativeError: l.relativeError })),
    }));
    return { verdict: report.verdict, images, warnings: report.warnings };
  }

  dispose() {
    this.cancel();
    this.owner.forget(this);
    this.disposables.forEach((d) => d.dispose());
  }
}

/** The live view of gradient matching after one more progress message: the curve restarts with each run or image. */
function nextLive(previous: ViewLive | undefined, detail: MatchingProgress): ViewLive {
  const sameRun = previous && previous.image === detail.image && previous.run === detail.run;
  const points: [number, number][] = [...(sameRun ? previous.points : []), [detail.iteration, detail.loss]];
  return {
    image: detail.image,
    run: detail.run,
    runs: detail.runs,
    start: detail.start,
    iteration: detail.iteration,
    iterations: detail.iterations,
    loss: detail.loss,
    // A few hundred points at most: the curve is redrawn on every message.
    points: points.length > MAX_LIVE_POINTS ? points.filter((_, i) => i % 2 === 0 || i === points.length - 1) : points,
    previewSrc: detail.preview ? `data:image/png;base64,${Buffer.from(detail.preview.png).toString('base64')}` : previous?.previewSrc,
  };
}

const MAX_LIVE_POINTS = 400;

export class ReconstructionPanels implements vscode.Disposable {
  private readonly panels = new Map<string, ReconstructionPanel>();
  private readonly registration: vscode.Disposable;
  /** Where the attack writes its PNGs; also a webview resource root. */
  readonly storageRoot: vscode.Uri;

  constructor(
    readonly context: vscode.ExtensionContext,
    readonly runtime: RuntimeClient,
    readonly analyses: ModelAnalyses,
    readonly log: vscode.LogOutputChannel,
  ) {
    this.storageRoot = vscode.Uri.joinPath(context.storageUri ?? context.globalStorageUri, 'reconstructions');
    this.registration = vscode.window.registerWebviewPanelSerializer(Views.reconstructions, {
      deserializeWebviewPanel: async (panel, state: ViewState | undefined) => {
        if (!state?.model) return panel.dispose();
        // A run that was going on when the window closed did not finish: show it as stopped.
        const restored: ViewState =
          state.phase === 'running' ? { ...state, phase: 'cancelled', progress: undefined, live: undefined, message: 'Interrupted by a reload.' } : state;
        this.adopt(new ReconstructionPanel(panel, vscode.Uri.parse(state.model), sharedOf(state), this, restored));
      },
    });
  }

  /**
   * Opens (or reveals) the model's panel and starts an attack unless it already shows one; with `shared`, the panel of
   * the attack on those shared gradients.
   */
  show(model: vscode.Uri, shared?: SharedGradients): ReconstructionView {
    let view = this.panels.get(panelKey(model, shared));
    // The same gradients measured against another image (or none) is another run.
    if (view && shared && view.shared?.image?.toString() !== shared.image?.toString()) {
      view.panel.dispose();
      view = undefined;
    }
    if (view) view.panel.reveal();
    else {
      const panel = vscode.window.createWebviewPanel(Views.reconstructions, panelTitle(model, shared), vscode.ViewColumn.Beside, {
        ...webviewOptions(this.context.extensionUri, [this.storageRoot]),
      });
      view = this.adopt(new ReconstructionPanel(panel, model, shared, this));
    }
    if (view.state.phase !== 'done' && view.state.phase !== 'running') view.run();
    return view;
  }

  private adopt(view: ReconstructionPanel): ReconstructionPanel {
    this.panels.set(panelKey(view.model, view.shared), view);
    return view;
  }

  forget(view: ReconstructionPanel) {
    const key = panelKey(view.model, view.shared);
    if (this.panels.get(key) === view) this.panels.delete(key);
  }

  dispose() {
    this.registration.dispose();
    for (const view of [...this.panels.values()]) view.panel.dispose();
  }
}
