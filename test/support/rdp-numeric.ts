/**
 * ln A_α = ln E_{x~N(0,σ²)}[(1 − q + q·e^{(2x−1)/(2σ²)})^α] by trapezoidal quadrature in log space: an independent
 * check of the series of Mironov, Talwar, Zhang (2019).
 */
export function logANumeric(q: number, sigma: number, alpha: number): number {
  const lo = -14 * sigma;
  const hi = alpha + 14 * sigma + 1;
  const m = 40000;
  const dx = (hi - lo) / m;
  const logs: number[] = [];
  for (let i = 0; i <= m; i++) {
    const x = lo + i * dx;
    const y = (2 * x - 1) / (2 * sigma * sigma);
    const logMix = y > 30 ? Math.log(q) + y + Math.log1p(((1 - q) / q) * Math.exp(-y)) : Math.log1p(q * Math.expm1(y));
    const logPhi = -0.5 * (x / sigma) ** 2 - Math.log(sigma * Math.sqrt(2 * Math.PI));
    logs.push(logPhi + alpha * logMix + Math.log(i === 0 || i === m ? 0.5 * dx : dx));
  }
  const top = Math.max(...logs);
  return top + Math.log(logs.reduce((a, l) => a + Math.exp(l - top), 0));
}
