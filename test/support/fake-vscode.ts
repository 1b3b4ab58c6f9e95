/**
 * A stand-in for the parts of the `vscode` module that src/extension/providers/vscodeLm.ts uses, so that the editor's
 * language-model provider can run in a plain Node test. The shapes follow the VS Code API (@types/vscode 1.101,
 * `vscode.lm`): `LanguageModelChat.sendRequest(messages, options, token)` resolves to a `LanguageModelChatResponse`
 * whose `text` is an AsyncIterable<string> of streamed fragments; `countTokens(text)` resolves to a number;
 * `LanguageModelChatMessage.User/Assistant(content)`; `LanguageModelError` with `code` equal to the name of the
 * static factory (`NoPermissions`, `Blocked`, `NotFound`); a `CancellationTokenSource`.
 *
 * installFakeVscode() makes `require('vscode')` return it (CommonJS resolution hook); import the module under test
 * after calling it (dynamic import).
 */
import Module from 'node:module';

export class LanguageModelError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
  static NoPermissions(message = 'no permission'): LanguageModelError {
    return new LanguageModelError(message, 'NoPermissions');
  }
  static Blocked(message = 'blocked'): LanguageModelError {
    return new LanguageModelError(message, 'Blocked');
  }
  static NotFound(message = 'not found'): LanguageModelError {
    return new LanguageModelError(message, 'NotFound');
  }
}

export interface FakeChatMessage {
  role: 'user' | 'assistant';
  content: string;
}

export const fakeVscode = {
  LanguageModelError,
  LanguageModelChatMessage: {
    User: (content: string): FakeChatMessage => ({ role: 'user', content }),
    Assistant: (content: string): FakeChatMessage => ({ role: 'assistant', content }),
  },
  CancellationTokenSource: class {
    private listeners: (() => void)[] = [];
    token = {
      isCancellationRequested: false,
      onCancellationRequested: (f: () => void) => {
        this.listeners.push(f);
        return { dispose() {} };
      },
    };
    cancel() {
      this.token.isCancellationRequested = true;
      for (const f of this.listeners) f();
    }
    dispose() {}
  },
  lm: {
    selectChatModels: async () => [],
  },
};

export interface FakeChatModel {
  id: string;
  vendor: string;
  family: string;
  sendRequest(
    messages: FakeChatMessage[],
    options: { justification?: string; modelOptions?: Record<string, unknown> },
    token: unknown,
  ): Promise<{ text: AsyncIterable<string>; stream: AsyncIterable<unknown> }>;
  countTokens(text: string): Promise<number>;
}

/** A chat model that answers `answer(messages)` streamed in fragments of a few characters (as Copilot streams). */
export function fakeChatModel(
  answer: (messages: FakeChatMessage[]) => string | Error,
  sent: FakeChatMessage[][] = [],
): FakeChatModel {
  return {
    id: 'copilot-gpt-4o',
    vendor: 'copilot',
    family: 'gpt-4o',
    async sendRequest(messages) {
      sent.push(messages);
      const a = answer(messages);
      if (a instanceof Error) throw a;
      const parts = a.match(/[\s\S]{1,7}/g) ?? [];
      async function* text() {
        for (const p of parts) yield p;
      }
      async function* stream() {
        for (const p of parts) yield { value: p };
      }
      return { text: text(), stream: stream() };
    },
    async countTokens(text) {
      return Math.ceil(text.length / 4);
    },
  };
}

let installed = false;
/** Makes `require('vscode')` resolve to fakeVscode (idempotent). */
export function installFakeVscode(): void {
  if (installed) return;
  installed = true;
  const id = '\0fake-vscode';
  const m = new Module(id);
  m.exports = fakeVscode;
  m.loaded = true;
  (Module as unknown as { _cache: Record<string, unknown> })._cache[id] = m;
  const M = Module as unknown as { _resolveFilename: (request: string, ...rest: unknown[]) => string };
  const resolve = M._resolveFilename;
  M._resolveFilename = function (request: string, ...rest: unknown[]) {
    return request === 'vscode' ? id : resolve.call(this, request, ...rest);
  };
}
