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

/** The webview's own UI state, kept by VS Code while the panel lives (it survives the reload when hidden). */
export function getState(): unknown {
  return api.getState();
}

export function setState(state: unknown): void {
  api.setState(state);
}
