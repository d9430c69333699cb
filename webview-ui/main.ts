// The one webview bundle: mounts the view the HTML shell names in data-view (src/extension/webviewHtml.ts), then
// tells the host it is ready. Errors are reported to the host, which logs them.
import type { ViewKind } from '../src/shared/webviewProtocol';
import type { VsCodeApi } from './dom';
import { mountReconstructions } from './reconstructionView';
import { mountLayerTable } from './layerTableView';

declare function acquireVsCodeApi(): VsCodeApi;

const api = acquireVsCodeApi();
const root = document.getElementById('root') as HTMLElement;
window.addEventListener('error', (event) => api.postMessage({ type: 'error', message: String(event.message) }));
// A CSP violation means the view is broken: reported to the host and on the console (the UI test fails on it).
document.addEventListener('securitypolicyviolation', (event) => {
  const message = `[leaklint-webview] CSP violation: ${event.violatedDirective} blocked ${event.blockedURI || 'inline content'}`;
  console.error(message);
  api.postMessage({ type: 'error', message });
});

const views: Record<ViewKind, (root: HTMLElement, api: VsCodeApi) => void> = { reconstructions: mountReconstructions, layers: mountLayerTable };
views[(root.dataset.view as ViewKind) ?? 'reconstructions']?.(root, api);
api.postMessage({ type: 'ready' });
