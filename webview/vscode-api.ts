// The webview side of the message protocol: typed send, validated receive.
import { parseHostMessage, type HostMessage, type WebviewMessage } from '../src/shared/protocol';

interface VsCodeApi {
  postMessage(message: unknown): void;
  getState(): unknown;
  setState(state: unknown): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

const api = acquireVsCodeApi();

export function send(message: WebviewMessage): void {
  api.postMessage(message);
}

export function onMessage(handler: (message: HostMessage) => void): void {
  window.addEventListener('message', (event: MessageEvent) => {
    const msg = parseHostMessage(event.data);
    if (msg) handler(msg);
    else console.warn('Private Few-Shot: ignored a malformed message from the host');
  });
}

/**
 * The run panel's dataset as the host wrote it into the HTML (src/extension/panels/html.ts). It is kept in every
 * state the webview saves, because that state is what VS Code hands the host's serializer after a window reload
 * (runPanelHost.ts registerSerializer): without it the panel could not be brought back.
 */
const dataset = document.body.dataset.dataset;
const withDataset = (state: unknown): unknown =>
  dataset === undefined ? state : { ...(state && typeof state === 'object' ? state : {}), dataset };
if (dataset !== undefined) api.setState(withDataset(api.getState()));

/** The webview's own UI state, kept by VS Code while the panel lives (it survives the reload when hidden). */
export function getState(): unknown {
  return api.getState();
}

export function setState(state: unknown): void {
  api.setState(withDataset(state));
}
