import { ProviderError, type ProviderErrorCode } from './errors';
import type { Provider } from './types';

/**
 * Where a provider's requests go, and what went wrong on the way, in words a user can act on. One place for the
 * CLI and the editor: classify.ts builds the one-line connection message from `connectionFailure`, and the run
 * panels decide from `endpointProblem` whether to offer Open Settings / Check Endpoint / Use the Built-in Model.
 */

/** Socket, DNS and TLS error codes (Node's `err.code`, as undici and the SDKs pass them on in `cause`). */
const FAILURES: Record<string, { words: string; kind: 'refused' | 'dns' | 'tls' | 'timeout' | 'dropped' }> = {
  ECONNREFUSED: { words: 'connection refused', kind: 'refused' },
  ENOTFOUND: { words: 'host not found', kind: 'dns' },
  EAI_AGAIN: { words: 'host name lookup failed (temporary DNS failure)', kind: 'dns' },
  EHOSTUNREACH: { words: 'host unreachable', kind: 'refused' },
  ENETUNREACH: { words: 'network unreachable', kind: 'refused' },
  ETIMEDOUT: { words: 'connection timed out', kind: 'timeout' },
  UND_ERR_CONNECT_TIMEOUT: { words: 'connection timed out', kind: 'timeout' },
  UND_ERR_HEADERS_TIMEOUT: { words: 'no answer (headers timeout)', kind: 'timeout' },
  ECONNRESET: { words: 'connection reset by the server', kind: 'dropped' },
  EPIPE: { words: 'connection closed by the server', kind: 'dropped' },
  UND_ERR_SOCKET: { words: 'connection closed by the server', kind: 'dropped' },
  DEPTH_ZERO_SELF_SIGNED_CERT: { words: 'TLS: the server uses a self-signed certificate', kind: 'tls' },
  SELF_SIGNED_CERT_IN_CHAIN: { words: 'TLS: self-signed certificate in the chain', kind: 'tls' },
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: { words: 'TLS: the certificate cannot be verified', kind: 'tls' },
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: { words: 'TLS: the certificate issuer is not trusted here', kind: 'tls' },
  CERT_HAS_EXPIRED: { words: 'TLS: the certificate has expired', kind: 'tls' },
  ERR_TLS_CERT_ALTNAME_INVALID: { words: 'TLS: the certificate does not name this host', kind: 'tls' },
  ERR_SSL_WRONG_VERSION_NUMBER: { words: 'TLS handshake failed (is the server plain http?)', kind: 'tls' },
  EPROTO: { words: 'TLS handshake failed (is the server plain http?)', kind: 'tls' },
};

export interface ConnectionFailure {
  /** The system code found, e.g. "ECONNREFUSED". */
  code: string;
  /** "connection refused", "host not found", "TLS: …". */
  words: string;
  kind: 'refused' | 'dns' | 'tls' | 'timeout' | 'dropped';
}

/**
 * The socket/DNS/TLS failure behind an error, looked for in the error and its `cause` chain (openai-node wraps
 * undici's `TypeError: fetch failed`, whose cause carries the code; Node's happy-eyeballs gives an AggregateError
 * with the code of its attempts). Undefined when there is none.
 */
export function connectionFailure(e: unknown): ConnectionFailure | undefined {
  let x: unknown = e;
  for (let depth = 0; depth < 6 && typeof x === 'object' && x !== null; depth++) {
    const o = x as { code?: unknown; cause?: unknown; errors?: unknown; message?: unknown };
    const code = typeof o.code === 'string' ? o.code : undefined;
    if (code && FAILURES[code]) return { code, ...FAILURES[code] };
    // undici refuses the fetch standard's blocked ports (1, 9, 25, 6000, …) before connecting, with no code.
    if (o.message === 'bad port')
      return { code: 'BAD_PORT', words: "the port is on the fetch standard's blocked list", kind: 'refused' };
    if (Array.isArray(o.errors)) {
      for (const inner of o.errors as unknown[]) {
        const f = connectionFailure(inner);
        if (f) return f;
      }
    }
    x = o.cause;
  }
  return undefined;
}

/** The hint for a connection failure to `host`: what to check, by kind of failure. */
export function connectionHint(f: ConnectionFailure | undefined, host: string): string {
  if (f?.code === 'BAD_PORT')
    return `Fetch never connects to this port (${host}): run the server on another port (e.g. 8000) and change the base URL.`;
  switch (f?.kind) {
    case 'refused':
      return `Nothing answers at ${host}: start the model server, or correct the base URL (a local server usually ends in /v1).`;
    case 'dns':
      return `Check the host name in the base URL (${host}) and the network connection.`;
    case 'tls':
      return `Check the https address; for a local server use http://, or trust its certificate (NODE_EXTRA_CA_CERTS).`;
    case 'timeout':
      return `${host} did not accept the connection in time: check that it is reachable (VPN, firewall) and the base URL.`;
    default:
      return `Check that the server is running and reachable at ${host}, and the base URL.`;
  }
}

/** Refused, unknown host and certificate problems do not go away by retrying at once. */
export function retryableFailure(f: ConnectionFailure | undefined): boolean {
  return !(f && (f.kind === 'refused' || f.kind === 'dns' || f.kind === 'tls'));
}

/** The base URL a provider sends to, when it has one (OpenAI-compatible, Azure, Anthropic). */
export function providerEndpoint(p: Pick<Provider, 'kind' | 'offline'>): string | undefined {
  if (p.offline) return undefined;
  const url = (p as { baseURL?: unknown }).baseURL;
  return typeof url === 'string' ? url : undefined;
}

/** host[:port] of a URL, or the URL itself when it does not parse. */
export function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}

/** The ProviderError codes a change of endpoint, key or model can fix: the panels offer the endpoint buttons. */
const ENDPOINT_CODES: readonly ProviderErrorCode[] = [
  'connection',
  'timeout',
  'auth',
  'model-not-found',
  'bad-request',
  'malformed-response',
  'server',
  'quota',
  'rate-limit',
  'no-logprobs',
  'no-embeddings',
  'config',
];

export interface EndpointProblem {
  code: ProviderErrorCode;
  /** The endpoint the failed request went to, when known. */
  url?: string;
}

/** Whether `e` is a problem with the model endpoint (offer settings, a check, the built-in model), and which. */
export function endpointProblem(e: unknown, url?: string): EndpointProblem | undefined {
  if (!(e instanceof ProviderError) || !ENDPOINT_CODES.includes(e.code)) return undefined;
  const u = e.details.url ?? url;
  return { code: e.code, ...(u ? { url: u } : {}) };
}

/**
 * Where the private data of a run goes, in one sentence, before it goes. `generator` gets prompts; for Aug-PE only
 * the embedder sees private text (the generator gets synthetic text only).
 */
export interface DataFlow {
  offline: boolean;
  /** Base URL private data is sent to, when remote. */
  endpoint?: string;
  sentence: string;
}

type Described = Pick<Provider, 'kind' | 'model' | 'offline'> & { endpoint?: string };

/** What the data-flow sentences need of a provider: kind, model, offline, and its base URL when remote (no key). */
export function flowParty(p: Provider): Described {
  const endpoint = providerEndpoint(p);
  return { kind: p.kind, model: p.model, offline: p.offline, ...(endpoint ? { endpoint } : {}) };
}

function where(p: Described): string {
  if (p.endpoint) return hostOf(p.endpoint);
  if (p.kind === 'vscode-lm') return `the editor's language model (${p.model})`;
  return `${p.kind}/${p.model}`;
}

/** DP few-shot: private examples go inside the prompts to the model. */
export function fewShotDataFlow(p: Described): DataFlow {
  if (p.offline) return { offline: true, sentence: 'Built-in model: nothing leaves this machine.' };
  return {
    offline: false,
    ...(p.endpoint ? { endpoint: p.endpoint } : {}),
    sentence: `Private examples are sent to ${where(p)} inside prompts.`,
  };
}

/** Aug-PE: the generator writes from synthetic text only; the embedder embeds the private rows. */
export function augPeDataFlow(generator: Described, embedder: Described): DataFlow {
  if (generator.offline && embedder.offline)
    return { offline: true, sentence: 'Built-in model and embedder: nothing leaves this machine.' };
  if (embedder.offline)
    return {
      offline: false,
      ...(generator.endpoint ? { endpoint: generator.endpoint } : {}),
      sentence: `Private text stays on this machine (built-in embedder); only synthetic text and public prompts go to ${where(generator)}.`,
    };
  return {
    offline: false,
    ...(embedder.endpoint ? { endpoint: embedder.endpoint } : {}),
    sentence: `Private text goes only to the embedder ${where(embedder)}${
      generator.offline || where(generator) === where(embedder)
        ? ''
        : `; the generator ${where(generator)} gets synthetic text only`
    }.`,
  };
}
