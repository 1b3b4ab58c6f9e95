import * as vscode from 'vscode';
import { NO_LOGPROBS_FIX } from '../../core/providers/classify';
import { abortReason, ProviderError } from '../../core/providers/errors';
import { generateOnly } from '../../core/providers/generate-only';
import { Limiter } from '../../core/providers/limiter';
import type {
  Capabilities,
  ChatMessage,
  GenerateRequest,
  GenerateResult,
  Provider,
  Usage,
} from '../../core/providers/types';

/**
 * The editor's language models (vscode.lm, e.g. Copilot) as a Provider: generation only, for Aug-PE. The API has no
 * logprobs and no (stable) embeddings, so nextTokens and embed fail with typed errors naming the fix.
 *
 * Consent: the first sendRequest shows VS Code's consent dialog, so generation must start from a user action (a
 * command); a refused or missing consent surfaces as ProviderError "auth" saying so. Each request may count against
 * the user's Copilot quota; Aug-PE sends only synthetic text here, never private rows.
 */
export interface VscodeLmOptions {
  /** Which model, e.g. { vendor: 'copilot', family: 'gpt-4o' }. The first match is used. */
  selector?: vscode.LanguageModelChatSelector;
  /** Shown in the consent dialog. */
  justification?: string;
  /** Requests at once (default 2: these models are rate-limited). */
  concurrency?: number;
  /** `context.languageModelAccessInformation`, to report missing consent without prompting. */
  access?: vscode.LanguageModelAccessInformation;
}

const JUSTIFICATION =
  'Private Few-Shot asks the model to write and vary synthetic examples (Aug-PE). It sends no rows of your dataset.';

/** Selects a model and wraps it; throws ProviderError "model-not-found" when the editor offers none. */
export async function createVscodeLmProvider(opts: VscodeLmOptions = {}): Promise<Provider> {
  const [model] = await vscode.lm.selectChatModels(opts.selector);
  if (!model) {
    throw new ProviderError(
      'model-not-found',
      `no editor language model matches ${JSON.stringify(opts.selector ?? {})}`,
      'Install and sign in to an extension that provides language models (e.g. GitHub Copilot), or choose an OpenAI-compatible provider.',
      { provider: 'vscode-lm' },
    );
  }
  return new VscodeLmProvider(model, opts);
}

export class VscodeLmProvider implements Provider {
  readonly kind = 'vscode-lm';
  readonly model: string;
  readonly offline = false;
  private readonly limiter: Limiter;
  private calls = 0;
  private inputTokens = 0;
  private outputTokens = 0;

  constructor(
    private readonly chat: vscode.LanguageModelChat,
    private readonly opts: VscodeLmOptions = {},
  ) {
    this.model = chat.id;
    this.limiter = new Limiter(opts.concurrency ?? 2);
  }

  async capabilities(): Promise<Capabilities> {
    const notes = [
      `Editor language models return no logprobs. ${NO_LOGPROBS_FIX}`,
      'Editor language models offer no embeddings: Aug-PE needs another embedder (an OpenAI-compatible embedding model or the built-in one).',
      'Each request may count against your Copilot quota; Aug-PE makes many requests.',
    ];
    if (this.opts.access?.canSendRequest(this.chat) === false)
      notes.push('Consent to use this model has not been given yet: VS Code will ask when generation starts.');
    return { nextTokenLogprobs: null, generate: true, embed: false, server: 'vscode-lm', notes };
  }

  // A generate-only model: both refuse with a ProviderError that says what to use instead.
  private readonly refuses = generateOnly('vscode-lm', () => ({
    logprobs: `editor model "${this.model}" returns no next-token logprobs`,
    embeddings: 'editor language models offer no embeddings',
  }));
  readonly nextTokens = this.refuses.nextTokens;
  readonly embed = this.refuses.embed;

  usage(): Usage {
    return {
      calls: this.calls,
      inputTokens: this.inputTokens,
      outputTokens: this.outputTokens,
      cost: 0,
      estimated: true,
    };
  }

  async generate(req: GenerateRequest): Promise<GenerateResult> {
    const n = req.n ?? 1;
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`n must be a whole number ≥ 1, got ${n}`);
    const messages: ChatMessage[] = req.messages ?? [{ role: 'user', content: req.prompt ?? '' }];
    const texts = await Promise.all(
      Array.from({ length: n }, () => this.limiter.run(() => this.once(messages, req), req.signal)),
    );
    return { texts };
  }

  private async once(messages: ChatMessage[], req: GenerateRequest): Promise<string> {
    if (req.signal?.aborted) throw abortReason(req.signal);
    // No system role in this API: system text becomes a leading user message.
    const msgs = messages.map((m) =>
      m.role === 'assistant'
        ? vscode.LanguageModelChatMessage.Assistant(m.content)
        : vscode.LanguageModelChatMessage.User(m.content),
    );
    const cts = new vscode.CancellationTokenSource();
    const onAbort = () => cts.cancel();
    req.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const modelOptions: Record<string, unknown> = { max_tokens: req.maxTokens };
      if (req.temperature !== undefined) modelOptions.temperature = req.temperature;
      const res = await this.chat.sendRequest(
        msgs,
        { justification: this.opts.justification ?? JUSTIFICATION, modelOptions },
        cts.token,
      );
      let text = '';
      // modelOptions are provider-specific and may be ignored: cap the length (≈4 characters per token) and apply
      // stops here.
      const maxChars = req.maxTokens * 4;
      for await (const chunk of res.text) {
        text += chunk;
        const stop = req.stop?.map((s) => text.indexOf(s)).filter((i) => i >= 0);
        if (stop?.length) {
          text = text.slice(0, Math.min(...stop));
          break;
        }
        if (text.length >= maxChars) {
          text = text.slice(0, maxChars);
          break;
        }
      }
      if (req.signal?.aborted) throw abortReason(req.signal);
      this.calls++;
      const count = async (s: string) => (s ? await this.chat.countTokens(s) : 0);
      this.inputTokens += (await Promise.all(messages.map((m) => count(m.content)))).reduce((a, b) => a + b, 0);
      this.outputTokens += await count(text);
      return text;
    } catch (e) {
      if (req.signal?.aborted) throw abortReason(req.signal);
      throw mapError(e, this.model);
    } finally {
      req.signal?.removeEventListener('abort', onAbort);
      cts.dispose();
    }
  }
}

function mapError(e: unknown, model: string): unknown {
  if (!(e instanceof vscode.LanguageModelError)) return e;
  const base = { provider: 'vscode-lm' };
  if (e.code === vscode.LanguageModelError.NoPermissions.name) {
    return new ProviderError(
      'auth',
      `no permission to use the editor model "${model}"`,
      'Consent is needed: start generation again from the command and choose "Allow" in the dialog VS Code shows, or pick another provider.',
      base,
    );
  }
  if (e.code === vscode.LanguageModelError.Blocked.name) {
    return new ProviderError(
      'quota',
      `the editor model "${model}" refused the request (blocked or over quota)`,
      'Wait for the quota to reset, or use an OpenAI-compatible provider for Aug-PE.',
      base,
    );
  }
  if (e.code === vscode.LanguageModelError.NotFound.name) {
    return new ProviderError(
      'model-not-found',
      `the editor model "${model}" is no longer available`,
      'Pick another model or provider.',
      base,
    );
  }
  return new ProviderError(
    'server',
    `the editor model "${model}" failed: ${e.message}`,
    'Try again, or use another provider.',
    base,
  );
}
