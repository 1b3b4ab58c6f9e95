import { UsageError } from '../../core/errors';
import {
  apiKeyFromEnv,
  createProvider,
  DEFAULTS,
  PROVIDER_KINDS,
  ProviderError,
  type Capabilities,
  type ProviderConfig,
  type ProviderKind,
  type Usage,
} from '../../core/providers';
import { CONTINUATION_MODES as MODES, verdicts, type AlgorithmVerdicts } from '../../core/providers/verdicts';
import { numberFlag, stringFlag, type Command, valueFlags, switchFlags } from '../args';

export interface DoctorReport {
  ok: true;
  provider: ProviderKind;
  model: string;
  baseURL?: string;
  embeddingModel?: string;
  /** Where the key came from (the variable name; never the key). */
  keySource: string | null;
  offline: boolean;
  capabilities: Capabilities;
  algorithms: AlgorithmVerdicts;
  /** What the probe itself used (it sends only fixed public text). */
  usage: Usage;
}

export const doctor: Command = {
  name: 'doctor',
  summary: 'Probe an LLM endpoint and say which algorithms work with it (sends only fixed public text, no data).',
  usage: `private-fewshot doctor [--provider openai|azure|anthropic|builtin] [--model M] [--base-url URL] [--embedding-model M] [--api-version V] [--timeout-ms N] [--json]

  --provider P         openai (any OpenAI-compatible server: OpenAI, vLLM, llama.cpp, Ollama, LM Studio), azure,
                       anthropic, or builtin (the offline model). Default: openai
  --model M            the model id (Azure: the deployment name). Not needed for builtin
  --base-url URL       e.g. http://127.0.0.1:11434/v1 (Ollama), http://127.0.0.1:8000/v1 (vLLM),
                       https://NAME.openai.azure.com (Azure). Default: the provider's public API
  --embedding-model M  the model for embeddings when it is not --model (e.g. text-embedding-3-small)
  --api-version V      Azure API version (default ${DEFAULTS.azureApiVersion})
  --timeout-ms N       per-request timeout (default 20000)
  --json               print one JSON object on stdout (also on failure, with "ok": false)

Keys come from PRIVATE_FEWSHOT_API_KEY, else OPENAI_API_KEY (openai, azure; also AZURE_OPENAI_API_KEY) or
ANTHROPIC_API_KEY (anthropic). Local servers need none. Keys are never printed.
Exit codes: 0 the endpoint answered (even if an algorithm cannot use it), 1 the endpoint failed, 2 usage error.`,
  options: {
    ...valueFlags('provider model base-url embedding-model api-version timeout-ms'),
    ...switchFlags('json'),
  },
  async run(values, positionals, io) {
    if (positionals.length > 0)
      throw new UsageError(
        `doctor takes no positional arguments (got "${positionals[0]}")`,
        'Example: private-fewshot doctor --provider openai --model llama3.2 --base-url http://127.0.0.1:11434/v1',
      );
    const kind = (stringFlag(values, 'provider') ?? 'openai') as ProviderKind;
    if (!PROVIDER_KINDS.includes(kind))
      throw new UsageError(`--provider must be one of ${PROVIDER_KINDS.join(', ')}; got "${kind}"`);
    const model = stringFlag(values, 'model');
    if (kind !== 'builtin' && !model) {
      const example =
        kind === 'anthropic'
          ? 'claude-haiku-4-5'
          : kind === 'azure'
            ? 'your-deployment'
            : 'gpt-4.1-mini (or llama3.2 with --base-url http://127.0.0.1:11434/v1)';
      throw new UsageError(`doctor --provider ${kind} needs --model`, `Example: --model ${example}`);
    }
    const key = apiKeyFromEnv(kind, io.env);
    const config: ProviderConfig = {
      kind,
      model,
      baseURL: stringFlag(values, 'base-url'),
      apiKey: key?.key,
      embeddingModel: stringFlag(values, 'embedding-model'),
      apiVersion: stringFlag(values, 'api-version'),
      timeoutMs: numberFlag(values, 'timeout-ms', { min: 1, integer: true }) ?? 20_000,
      retry: { maxRetries: 1 },
      probeCache: new Map(),
    };
    const json = values.json === true;
    let report: DoctorReport;
    try {
      const provider = createProvider(config);
      const caps = await provider.capabilities();
      report = {
        ok: true,
        provider: kind,
        model: provider.model,
        ...(config.baseURL ? { baseURL: config.baseURL } : {}),
        ...(config.embeddingModel ? { embeddingModel: config.embeddingModel } : {}),
        keySource: key?.variable ?? null,
        offline: provider.offline,
        capabilities: caps,
        algorithms: verdicts(caps, provider.offline),
        usage: provider.usage(),
      };
    } catch (e) {
      if (json && e instanceof ProviderError) {
        io.out(
          JSON.stringify({
            ok: false,
            provider: kind,
            model: model ?? null,
            error: { code: e.code, message: e.message, hint: e.hint ?? null },
          }),
        );
        return 1;
      }
      throw e;
    }
    io.out(json ? JSON.stringify(report) : format(report));
    return 0;
  },
};

function format(r: DoctorReport): string {
  const c = r.capabilities;
  const yes = (b: boolean) => (b ? 'yes' : 'no');
  const lines = [
    `provider   ${r.provider}${r.baseURL ? ` at ${r.baseURL}` : ''}${c.server ? ` (server: ${c.server})` : ''}`,
    `model      ${r.model}${r.embeddingModel ? `, embeddings: ${r.embeddingModel}` : ''}`,
    `key        ${r.keySource ? `from ${r.keySource}` : r.provider === 'builtin' ? 'not needed' : 'none given'}`,
    'capabilities',
    `  next-token logprobs  ${c.nextTokenLogprobs ? `yes, top-${c.nextTokenLogprobs.maxTopK} ${MODES[c.nextTokenLogprobs.mode] ?? c.nextTokenLogprobs.mode}` : 'no'}`,
    `  generate             ${yes(c.generate)}`,
    `  embed                ${yes(c.embed)}${c.embedDimensions ? ` (${c.embedDimensions} dimensions)` : ''}`,
    'algorithms',
    `  DP few-shot          ${r.algorithms.dpFewShot.detail}`,
    `  Aug-PE               ${r.algorithms.augPe.detail}`,
  ];
  if (c.notes.length) lines.push('notes', ...c.notes.map((n) => `  - ${n}`));
  const u = r.usage;
  if (r.offline) lines.push('probe      local: nothing left this machine');
  else
    lines.push(
      `probe      ${u.calls} call(s), ${u.inputTokens} input + ${u.outputTokens} output tokens${u.cost > 0 ? `, about $${u.cost.toFixed(6)}` : ''}; only fixed public text was sent`,
    );
  return lines.join('\n');
}
