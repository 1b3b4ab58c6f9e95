/**
 * Interpolated modified Kneser–Ney n-gram model over integer token ids, with count merging of several corpora.
 *
 * Source: Chen & Goodman (1998), "An Empirical Study of Smoothing Techniques for Language Modeling", TR-10-98,
 * §3 (interpolated Kneser–Ney, eq. 17 for the recursion) and §4.1.6 (modified KN: three discounts D1, D2, D3+ per
 * order, eq. 26 for their estimates). Lower orders use continuation counts N1+(• w), the highest order raw counts.
 * Several corpora are combined by count merging at every order, c(h, w) = Σ_s β_s c_s(h, w) (Bacchiani & Roark,
 * ICASSP 2003, "Unsupervised language model adaptation", eq. 3: MAP adaptation as weighted counts), so a corpus with
 * a large weight dominates the contexts it has seen and the other corpora predict the rest.
 *
 * The counts never hold text, only ids. The recursion bottoms out in a base distribution given at query time (the
 * textbook choice is uniform over the vocabulary), so corpora over different token sets can share one id space.
 */

/** Context padding before the first token of every sequence. Never predicted. */
export const BOS = -1;

export interface ContextStats {
  /** Sum of the counts (or continuation counts) of the words seen after this context. */
  total: number;
  /** Number of distinct words with count exactly 1, exactly 2, and 3 or more after this context. */
  n1: number;
  n2: number;
  n3: number;
  next: Map<number, number>;
}

/** Discounts for counts 1, 2 and 3+. */
export type Discounts = readonly [number, number, number];

const FALLBACK_DISCOUNTS: Discounts = [0.5, 1.0, 1.5];

export function contextKey(ids: readonly number[], from: number, to: number): string {
  let key = '';
  for (let i = from; i < to; i++) key += i === from ? `${ids[i]}` : `,${ids[i]}`;
  return key;
}

/**
 * Modified KN discounts from the counts-of-counts n1..n4 of one order (Chen & Goodman 1998, eq. 26):
 * Y = n1/(n1 + 2 n2), D1 = 1 − 2Y n2/n1, D2 = 2 − 3Y n3/n2, D3+ = 3 − 4Y n4/n3.
 * A discount that is undefined (a zero count-of-count, as in a tiny corpus) or outside (0, c) falls back to 0.5·c.
 */
export function modifiedKneserNeyDiscounts(n1: number, n2: number, n3: number, n4: number): Discounts {
  const y = n1 + 2 * n2 > 0 ? n1 / (n1 + 2 * n2) : NaN;
  const raw = [1 - (2 * y * n2) / n1, 2 - (3 * y * n3) / n2, 3 - (4 * y * n4) / n3];
  return raw.map((d, i) =>
    Number.isFinite(d) && d > 0 && d < i + 1 ? d : FALLBACK_DISCOUNTS[i]!,
  ) as unknown as Discounts;
}

/**
 * D(c): D1 for counts below 2, D2 below 3, D3+ otherwise, never more than c itself (weighted counts can be
 * fractional). The same D(c) is used for the direct term and for γ, so each level still sums to 1.
 */
function discount(d: Discounts, count: number): number {
  if (count <= 0) return 0;
  return Math.min(count, count < 2 ? d[0] : count < 3 ? d[1] : d[2]);
}

/** The n-gram counts of one corpus, for every order up to `order`. */
export class NgramCounts {
  /** levels[k] holds the statistics of contexts of length k (k = 0 is the unigram level). */
  private readonly levels: Map<string, ContextStats>[];

  private constructor(
    readonly order: number,
    levels: Map<string, ContextStats>[],
  ) {
    this.levels = levels;
  }

  /**
   * Counts every sequence, each padded on the left with order−1 BOS symbols (so every position has a full context).
   * The highest order keeps raw counts; every lower order keeps continuation counts: the number of distinct tokens
   * seen to the left of the n-gram.
   */
  static fromSequences(sequences: readonly (readonly number[])[], order: number): NgramCounts {
    if (!Number.isInteger(order) || order < 1) throw new Error(`n-gram order must be a positive integer, got ${order}`);
    const levels: Map<string, ContextStats>[] = Array.from({ length: order }, () => new Map());
    // distinct[m] = the distinct (m+1)-grams, m = 1..order-1, used for continuation counts of m-grams.
    const distinct: Set<string>[] = Array.from({ length: order }, () => new Set());
    const add = (level: number, ctx: string, w: number): void => {
      const map = levels[level]!;
      let s = map.get(ctx);
      if (!s) {
        s = { total: 0, n1: 0, n2: 0, n3: 0, next: new Map() };
        map.set(ctx, s);
      }
      s.next.set(w, (s.next.get(w) ?? 0) + 1);
      s.total += 1;
    };
    for (const seq of sequences) {
      const padded: number[] = new Array<number>(order - 1).fill(BOS).concat(seq);
      for (let i = order - 1; i < padded.length; i++) {
        const w = padded[i]!;
        add(order - 1, contextKey(padded, i - order + 1, i), w);
        for (let m = 1; m < order; m++) {
          // The (m+1)-gram ending at i; its first token is a left extension of the m-gram ending at i.
          const key = contextKey(padded, i - m, i + 1);
          if (distinct[m]!.has(key)) continue;
          distinct[m]!.add(key);
          add(m - 1, contextKey(padded, i - m + 1, i), w);
        }
      }
    }
    for (const level of levels) {
      for (const s of level.values()) {
        for (const c of s.next.values()) {
          if (c === 1) s.n1++;
          else if (c === 2) s.n2++;
          else s.n3++;
        }
      }
    }
    return new NgramCounts(order, levels);
  }

  /** The statistics of the context of length k that ends `history` (BOS-padded on the left), if it was seen. */
  stats(history: readonly number[], k: number): ContextStats | undefined {
    if (k === 0) return this.levels[0]!.get('');
    let key = '';
    for (let i = history.length - k; i < history.length; i++)
      key += `${i === history.length - k ? '' : ','}${i < 0 ? BOS : history[i]}`;
    return this.levels[k]!.get(key);
  }

  /**
   * The statistics of the sequence-start contexts (all BOS, lengths 1..order−1) with every next token renamed by
   * `rename` (counts of tokens renamed alike are added).
   */
  startStatsRenamed(rename: (id: number) => number): ContextStats[] {
    const out: ContextStats[] = [];
    for (let k = 1; k < this.order; k++) {
      const s = this.stats([], k);
      const next = new Map<number, number>();
      if (s) for (const [w, c] of s.next) next.set(rename(w), (next.get(rename(w)) ?? 0) + c);
      const r: ContextStats = { total: s?.total ?? 0, n1: 0, n2: 0, n3: 0, next };
      for (const c of next.values()) {
        if (c === 1) r.n1++;
        else if (c === 2) r.n2++;
        else r.n3++;
      }
      out.push(r);
    }
    return out;
  }

  /** Modified KN discounts of each order, estimated from this corpus's counts-of-counts. */
  discounts(): Discounts[] {
    return this.levels.map((level) => {
      const cc = [0, 0, 0, 0, 0];
      for (const s of level.values()) for (const c of s.next.values()) if (c <= 4) cc[c]!++;
      return modifiedKneserNeyDiscounts(cc[1]!, cc[2]!, cc[3]!, cc[4]!);
    });
  }

  /** The raw count of each token (highest order, summed over contexts): the maximum-likelihood unigram. */
  tokenCounts(): Map<number, number> {
    const out = new Map<number, number>();
    for (const s of this.levels[this.order - 1]!.values())
      for (const [w, c] of s.next) out.set(w, (out.get(w) ?? 0) + c);
    return out;
  }
}

/** One corpus in a merged model: its counts, the history to look it up with, and its count weight β. */
export interface Source {
  counts: NgramCounts;
  history: readonly number[];
  weight: number;
  /**
   * Optional: at contexts of length ≥ 1 that other corpora have also seen, raise β so this corpus holds at least
   * this share (0–1) of the merged count c(h).
   */
  minShare?: number;
  /** Optional: statistics to use instead of the lookup of `history`, per context length (undefined: look up). */
  override?: (k: number) => ContextStats | undefined;
}

/** The merged statistics of one context: Σ β_s c_s, with the counts-of-counts of the merged counts. */
interface Merged {
  total: number;
  gamma: number;
  parts: { s: ContextStats; weight: number }[];
}

/**
 * An interpolated modified KN model over merged counts. The discounts are fixed per order (estimated from the main
 * corpus); a merged count c uses D1, D2 or D3+ by its value.
 */
export class MergedKneserNey {
  constructor(
    readonly order: number,
    private readonly discounts: readonly Discounts[],
  ) {
    if (discounts.length !== order) throw new Error('one set of discounts per order is needed');
  }

  private merged(sources: readonly Source[], k: number): Merged | undefined {
    const parts: { s: ContextStats; weight: number }[] = [];
    const found: (ContextStats | undefined)[] = sources.map((src) =>
      src.weight > 0 ? (src.override?.(k) ?? src.counts.stats(src.history, k)) : undefined,
    );
    let total = 0;
    for (let i = 0; i < sources.length; i++) {
      const s = found[i];
      if (s) total += sources[i]!.weight * s.total;
    }
    for (let i = 0; i < sources.length; i++) {
      const s = found[i];
      if (!s) continue;
      const src = sources[i]!;
      let weight = src.weight;
      const share = src.minShare;
      if (k > 0 && share !== undefined && share > 0 && share < 1) {
        const others = total - src.weight * s.total;
        // β ≥ share/(1 − share) · c_others(h) / c_s(h) gives this corpus at least `share` of c(h).
        weight = Math.max(weight, (share / (1 - share)) * (others / s.total));
      }
      parts.push({ s, weight });
    }
    total = 0;
    for (const { s, weight } of parts) total += weight * s.total;
    if (parts.length === 0 || !(total > 0)) return undefined;
    const d = this.discounts[k]!;
    // Σ_w D(c(h, w)) over the merged counts. A part with weight 1 has it from its counts-of-counts; only the words
    // of the other parts change it, so the large background context is never walked here.
    const main = parts.findIndex((p) => p.weight === 1);
    let mass = 0;
    if (main >= 0) {
      const m = parts[main]!.s;
      mass = Math.min(1, d[0]) * m.n1 + Math.min(2, d[1]) * m.n2 + d[2] * m.n3;
    }
    const seen = parts.length > 1 || main < 0 ? new Set<number>() : undefined;
    for (let j = 0; seen && j < parts.length; j++) {
      if (j === main) continue;
      for (const w of parts[j]!.s.next.keys()) {
        if (seen.has(w)) continue;
        seen.add(w);
        const alone = main >= 0 ? (parts[main]!.s.next.get(w) ?? 0) : 0;
        mass += discount(d, mergedCount(parts, w)) - discount(d, alone);
      }
    }
    // γ(h) = (D1 N1(h•) + D2 N2(h•) + D3+ N3+(h•)) / c(h)  (Chen & Goodman 1998, eq. 19)
    return { total, gamma: mass / total, parts };
  }

  /**
   * P(w | histories) for one token, by the recursion P_k(w|h) = max(c(hw) − D(c(hw)), 0)/c(h) + γ(h) P_{k−1}(w|h'),
   * starting from P_{−1}(w) = `base`; an unseen context passes its lower order through unchanged.
   */
  prob(sources: readonly Source[], w: number, base: number, fromLevel = 0, toLevel = this.order - 1): number {
    let p = base;
    const d = this.discounts;
    for (let k = fromLevel; k <= toLevel; k++) {
      const m = this.merged(sources, k);
      if (!m) continue;
      const c = mergedCount(m.parts, w);
      p = Math.max(c - discount(d[k]!, c), 0) / m.total + m.gamma * p;
    }
    return p;
  }

  /**
   * Applies levels fromLevel..toLevel of the recursion to the whole vocabulary at once, in place: `p` holds
   * P_{fromLevel−1} on entry and P_{toLevel} on return. Returns the new probability of a token with no counts, from
   * its probability `unseen` on entry. When `p` sums to 1 on entry, it does on return.
   */
  apply(sources: readonly Source[], p: Float64Array, unseen: number, fromLevel = 0, toLevel = this.order - 1): number {
    const n = p.length;
    for (let k = fromLevel; k <= toLevel; k++) {
      const m = this.merged(sources, k);
      if (!m) continue;
      const d = this.discounts[k]!;
      for (let i = 0; i < n; i++) p[i]! *= m.gamma;
      unseen *= m.gamma;
      if (m.parts.length === 1) {
        const { s, weight } = m.parts[0]!;
        for (const [w, c0] of s.next) {
          const c = weight * c0;
          if (w >= 0 && w < n) p[w]! += (c - discount(d, c)) / m.total;
        }
      } else {
        // Each word once: the words of the first part, then those of later parts that no earlier part has.
        for (let j = 0; j < m.parts.length; j++) {
          for (const w of m.parts[j]!.s.next.keys()) {
            let earlier = false;
            for (let i = 0; i < j && !earlier; i++) earlier = m.parts[i]!.s.next.has(w);
            if (earlier) continue;
            const c = mergedCount(m.parts, w);
            if (w >= 0 && w < n) p[w]! += (c - discount(d, c)) / m.total;
          }
        }
      }
    }
    return unseen;
  }
}

function mergedCount(parts: readonly { s: ContextStats; weight: number }[], w: number): number {
  let c = 0;
  for (const { s, weight } of parts) c += weight * (s.next.get(w) ?? 0);
  return c;
}
