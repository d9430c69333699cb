// Extreme weights and ranks. A rank is a generic property of a kernel: for almost every value of one weight it is the
// same. But in float64 a single weight 10^30 times the others makes every other entry of its rows vanish below any
// tolerance, and a broken (or hostile) file would then look less exposed than it is. For the rank analysis only,
// magnitudes far beyond the kernel's typical one are clipped: zeros and signs stay, the rank stays the generic one.

/** Magnitudes over this multiple of the median non-zero magnitude are clipped (well inside what float64 resolves). */
export const OUTLIER_FACTOR = 1e3;

/** The values with |v| clipped to OUTLIER_FACTOR × the median non-zero |v| (a copy when something was clipped). */
export function clipOutliers(values: Float64Array): Float64Array {
  const magnitudes: number[] = [];
  for (const v of values) if (v !== 0) magnitudes.push(Math.abs(v));
  if (magnitudes.length < 2) return values;
  magnitudes.sort((a, b) => a - b);
  const limit = OUTLIER_FACTOR * magnitudes[magnitudes.length >> 1];
  if (magnitudes[magnitudes.length - 1] <= limit) return values;
  return values.map((v) => (Math.abs(v) > limit ? Math.sign(v) * limit : v));
}
