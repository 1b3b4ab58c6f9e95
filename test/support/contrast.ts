// WCAG 2.2 contrast (Success Criteria 1.4.3 and 1.4.11): relative luminance of sRGB colours and the ratio
// (L1 + 0.05) / (L2 + 0.05). Plain functions, used by the unit test of fixed colours and by the theme e2e test.

/** [r, g, b, a] (0–255, alpha 0–1) from #rgb, #rrggbb, rgb(…) or rgba(…); undefined for anything else. */
export function parseColor(c: string): [number, number, number, number] | undefined {
  const t = c.trim().toLowerCase();
  let m = /^#([0-9a-f]{3})$/.exec(t);
  if (m) {
    const [r, g, b] = [...m[1]!].map((x) => parseInt(x + x, 16));
    return [r!, g!, b!, 1];
  }
  m = /^#([0-9a-f]{6})([0-9a-f]{2})?$/.exec(t);
  if (m) {
    const n = parseInt(m[1]!, 16);
    return [(n >> 16) & 255, (n >> 8) & 255, n & 255, m[2] ? parseInt(m[2], 16) / 255 : 1];
  }
  m = /^rgba?\(\s*([\d.]+)[\s,]+([\d.]+)[\s,]+([\d.]+)(?:[\s,/]+([\d.]+%?))?\s*\)$/.exec(t);
  if (m) {
    const a = m[4] === undefined ? 1 : m[4].endsWith('%') ? Number(m[4].slice(0, -1)) / 100 : Number(m[4]);
    return [Number(m[1]), Number(m[2]), Number(m[3]), a];
  }
  return undefined;
}

/** `top` (possibly translucent) composited over the opaque `bottom`. */
export function over(top: readonly number[], bottom: readonly number[]): [number, number, number, number] {
  const a = top[3] ?? 1;
  return [0, 1, 2].map((i) => top[i]! * a + bottom[i]! * (1 - a)).concat(1) as [number, number, number, number];
}

/** Relative luminance (WCAG 2.2, "relative luminance" definition). */
export function luminance(rgb: readonly number[]): number {
  const lin = (v: number) => {
    const s = v / 255;
    return s <= 0.04045 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * lin(rgb[0]!) + 0.7152 * lin(rgb[1]!) + 0.0722 * lin(rgb[2]!);
}

/** Contrast ratio of two colours (1 to 21). A translucent foreground is composited over the background first. */
export function contrastRatio(fg: string, bg: string): number {
  const b = parseColor(bg);
  const f = parseColor(fg);
  if (!b || !f) throw new Error(`not a colour: ${!f ? fg : bg}`);
  const l1 = luminance(over(f, b));
  const l2 = luminance(b);
  return (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05);
}
