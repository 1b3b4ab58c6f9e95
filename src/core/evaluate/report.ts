/**
 * What every evaluation output carries. Evaluation numbers are computed from private held-out rows without noise:
 * they are local diagnostics (src/core/release.ts), never part of a release, an export or a file written for sharing.
 */
export const EVALUATION_NOTE =
  'local only, not private: measured on private held-out rows without noise; never in a release or an export';
