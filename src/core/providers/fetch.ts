/**
 * A fetch for the SDK clients that never reads more than `limit` bytes of a response body: a broken or hostile
 * server (or a wrong base URL pointing at a file server) must not make the tool buffer hundreds of megabytes. A
 * declared Content-Length above the limit fails at once; otherwise the body is counted as it streams and the stream
 * errors as soon as it passes the limit. The error is a ResponseTooLargeError, which classify.ts turns into one clear,
 * non-retried ProviderError.
 */

/** 64 MiB: far above any real answer (a 64-prompt batch with 20 logprobs per position is well under 1 MiB). */
export const MAX_RESPONSE_BYTES = 64 * 1024 * 1024;

export class ResponseTooLargeError extends Error {
  constructor(readonly limit: number) {
    super(`the response body is larger than ${formatBytes(limit)}`);
    this.name = 'ResponseTooLargeError';
  }
}

export function formatBytes(n: number): string {
  return n >= 1024 * 1024 ? `${Math.round(n / (1024 * 1024))} MB` : n >= 1024 ? `${Math.round(n / 1024)} KB` : `${n} B`;
}

/** The ResponseTooLargeError in `e` or its cause chain, if any. */
export function responseTooLarge(e: unknown): ResponseTooLargeError | undefined {
  for (let x = e, depth = 0; x && depth < 5; depth++) {
    if (x instanceof ResponseTooLargeError) return x;
    x = typeof x === 'object' ? (x as { cause?: unknown }).cause : undefined;
  }
  return undefined;
}

export function cappedFetch(limit: number = MAX_RESPONSE_BYTES, inner: typeof fetch = fetch): typeof fetch {
  return async (input, init) => {
    const res = await inner(input, init);
    const declared = Number(res.headers.get('content-length') ?? NaN);
    if (Number.isFinite(declared) && declared > limit) {
      await res.body?.cancel().catch(() => undefined);
      throw new ResponseTooLargeError(limit);
    }
    if (!res.body) return res;
    const reader = res.body.getReader();
    let seen = 0;
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        const { done, value } = await reader.read();
        if (done) return controller.close();
        seen += value.byteLength;
        if (seen > limit) {
          await reader.cancel().catch(() => undefined);
          controller.error(new ResponseTooLargeError(limit));
          return;
        }
        controller.enqueue(value);
      },
      cancel(reason) {
        return reader.cancel(reason);
      },
    });
    return new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
  };
}
