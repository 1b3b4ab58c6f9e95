/**
 * The Fréchet distance between two sets of embeddings, each summarised by a Gaussian with its sample mean and
 * covariance — the measure behind FID (Heusel et al., NeurIPS 2017, "GANs Trained by a Two Time-Scale Update Rule
 * Converge to a Local Nash Equilibrium", eq. 6), with the closed form for Gaussians of Dowson & Landau (1982, "The
 * Fréchet distance between multivariate normal distributions", J. Multivariate Anal. 12:450–455):
 *   d² = ‖μ₁ − μ₂‖² + Tr(Σ₁) + Tr(Σ₂) − 2·Tr((Σ₁Σ₂)^{1/2}).
 * Computed exactly in the sample space: with Aᵢ the centred data scaled by 1/√(nᵢ − 1) (so Σᵢ = AᵢᵀAᵢ, Aᵢ of size
 * nᵢ × d), Tr(Σᵢ) = ‖Aᵢ‖²_F and the eigenvalues of Σ₁Σ₂ = A₁ᵀA₁A₂ᵀA₂ are the squared singular values of
 * M = A₁A₂ᵀ (n₁ × n₂), so Tr((Σ₁Σ₂)^{1/2}) = ‖M‖_* = Σ √eig(MMᵀ) (or of MᵀM, whichever is smaller). The symmetric
 * eigenvalues come from the cyclic Jacobi method (Golub & Van Loan, "Matrix Computations", 4th ed., §8.5). Cost
 * O(n₁n₂d + min(n₁,n₂)³): fine for the few hundred records `evaluate --records` compares.
 *
 * Reported as d² (the FID convention) with the same distance between two halves of real data as a scale.
 */

/** Eigenvalues of a symmetric matrix (row-major n × n; not modified) by cyclic Jacobi rotations. */
export function symmetricEigenvalues(a: Float64Array, n: number): number[] {
  const m = Float64Array.from(a);
  const off = () => {
    let s = 0;
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) s += m[i * n + j]! ** 2;
    return s;
  };
  let diag = 0;
  for (let i = 0; i < n; i++) diag += m[i * n + i]! ** 2;
  for (let sweep = 0; sweep < 100; sweep++) {
    if (off() <= 1e-30 * Math.max(diag, 1e-300)) break;
    for (let p = 0; p < n - 1; p++)
      for (let q = p + 1; q < n; q++) {
        const apq = m[p * n + q]!;
        if (apq === 0) continue;
        const app = m[p * n + p]!;
        const aqq = m[q * n + q]!;
        // Rotation that zeroes m[p][q] (Golub & Van Loan Alg. 8.5.1, sym.schur2).
        const tau = (aqq - app) / (2 * apq);
        const t = (tau >= 0 ? 1 : -1) / (Math.abs(tau) + Math.sqrt(1 + tau * tau));
        const c = 1 / Math.sqrt(1 + t * t);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = m[k * n + p]!;
          const akq = m[k * n + q]!;
          m[k * n + p] = c * akp - s * akq;
          m[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = m[p * n + k]!;
          const aqk = m[q * n + k]!;
          m[p * n + k] = c * apk - s * aqk;
          m[q * n + k] = s * apk + c * aqk;
        }
      }
  }
  return Array.from({ length: n }, (_, i) => m[i * n + i]!);
}

function centred(x: readonly ArrayLike<number>[]): { mean: Float64Array; a: Float64Array[] } {
  const n = x.length;
  const d = x[0]!.length;
  const mean = new Float64Array(d);
  for (const row of x) for (let j = 0; j < d; j++) mean[j] = mean[j]! + row[j]! / n;
  const f = 1 / Math.sqrt(Math.max(1, n - 1));
  return { mean, a: x.map((row) => Float64Array.from({ length: d }, (_, j) => (row[j]! - mean[j]!) * f)) };
}

/** The squared Fréchet distance between Gaussians fitted to `x` and `y` (each at least two rows of one dimension). */
export function frechetDistance(x: readonly ArrayLike<number>[], y: readonly ArrayLike<number>[]): number {
  if (x.length < 2 || y.length < 2) throw new Error('frechetDistance: each set needs at least two embeddings');
  const d = x[0]!.length;
  const cx = centred(x);
  const cy = centred(y);
  let meanTerm = 0;
  for (let j = 0; j < d; j++) meanTerm += (cx.mean[j]! - cy.mean[j]!) ** 2;
  let trace = 0;
  for (const r of [...cx.a, ...cy.a]) for (let j = 0; j < d; j++) trace += r[j]! ** 2;
  // M = A₁A₂ᵀ; G = MMᵀ or MᵀM (the smaller side).
  const [p, q] = cx.a.length <= cy.a.length ? [cx.a, cy.a] : [cy.a, cx.a];
  const M = p.map((r) => q.map((s) => r.reduce((acc, v, j) => acc + v * s[j]!, 0)));
  const n = p.length;
  const g = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let k = i; k < n; k++) {
      let s = 0;
      for (let j = 0; j < q.length; j++) s += M[i]![j]! * M[k]![j]!;
      g[i * n + k] = g[k * n + i] = s;
    }
  // G's eigenvalues are squared singular values, so its round-off (≈ 1e-16·max) would turn each zero one into
  // √(1e-16·max) ≈ 1e-8·√max after the square root: values below 1e-14·max are taken as the zeros they are.
  const eig = symmetricEigenvalues(g, n);
  const floor = 1e-14 * Math.max(0, ...eig);
  const nuclear = eig.reduce((acc, e) => acc + (e > floor ? Math.sqrt(e) : 0), 0);
  return Math.max(0, meanTerm + trace - 2 * nuclear);
}
