// DOM helpers shared by the webview's views (no framework: the views are small and the CSP forbids inline code).
import type { ViewToHost } from '../src/shared/webviewProtocol';

export interface VsCodeApi {
  postMessage(message: ViewToHost): void;
  getState(): unknown;
  setState(state: unknown): void;
}

export function element<K extends keyof HTMLElementTagNameMap>(tag: K, props: { className?: string; text?: string } = {}, ...children: Node[]) {
  const node = document.createElement(tag);
  if (props.className) node.className = props.className;
  if (props.text !== undefined) node.textContent = props.text;
  node.append(...children);
  return node;
}

export function button(api: VsCodeApi, label: string, message: ViewToHost, id: string) {
  const b = element('button', { text: label });
  b.id = id;
  b.addEventListener('click', () => api.postMessage(message));
  return b;
}

/** The state saved with setState (a hidden or restored panel), else the one the host wrote into the HTML. */
export function initialState<T extends { model: string }>(root: HTMLElement, api: VsCodeApi): T | undefined {
  const saved = api.getState() as T | undefined;
  if (saved?.model) return saved;
  try {
    return JSON.parse(root.dataset.state ?? '') as T;
  } catch {
    return undefined;
  }
}
