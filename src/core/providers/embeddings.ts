/**
 * Embedding vectors arrive either as JSON float arrays (encoding_format "float", the wire default) or as base64 of
 * little-endian float32 bytes (encoding_format "base64", what openai-node asks for unless told otherwise). Both are
 * decoded here; the adapter always sets encoding_format explicitly so the SDK never rewrites the response.
 */

/** Decodes one `data[].embedding`; returns null when it is neither a finite float array nor valid base64 float32. */
export function decodeEmbedding(value: unknown): Float32Array | null {
  if (Array.isArray(value)) {
    const out = new Float32Array(value.length);
    for (let i = 0; i < value.length; i++) {
      const x: unknown = value[i];
      if (typeof x !== 'number' || !Number.isFinite(x)) return null;
      out[i] = x;
    }
    return out;
  }
  if (value instanceof Float32Array) return value;
  if (typeof value === 'string') {
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(value)) return null;
    const bytes = Buffer.from(value, 'base64');
    if (bytes.length === 0 || bytes.length % 4 !== 0) return null;
    // Copy into a fresh, aligned buffer; read as little-endian regardless of the host.
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const out = new Float32Array(bytes.length / 4);
    for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(i * 4, true);
    for (const x of out) if (!Number.isFinite(x)) return null;
    return out;
  }
  return null;
}

/** Encodes a vector as base64 little-endian float32 (the inverse of decodeEmbedding; used by the fake server). */
export function encodeEmbeddingBase64(v: ArrayLike<number>): string {
  const buf = Buffer.alloc(v.length * 4);
  for (let i = 0; i < v.length; i++) buf.writeFloatLE(v[i]!, i * 4);
  return buf.toString('base64');
}
