// Seeded pseudo-random numbers for the Gaussian surrogates of the rank analysis (docs/algorithm.md §4.2, §7.4).
// xoshiro128** (32-bit state words, no BigInt) for uniforms; Marsaglia's polar method for normals.
// Deterministic across platforms: only 32-bit integer arithmetic and IEEE double operations are used.

/** A seeded generator of uniform and standard-normal numbers. */
export interface Rng {
  /** Uniform double in [0, 1) with 53 random bits. */
  uniform(): number;
  /** Standard normal N(0, 1). */
  normal(): number;
  /** Fill `out` with N(0, scale²) samples and return it. */
  fillNormal(out: Float64Array, scale?: number): Float64Array;
  /** Fill out[start…end) with random signs ±1 (Rademacher; 32 per generator step, for long sketch vectors). */
  fillSigns(out: Float32Array | Float64Array, start?: number, end?: number): void;
}

/** splitmix32: expands a 32-bit seed into well-mixed state words. */
function splitmix32(state: { s: number }): number {
  state.s = (state.s + 0x9e3779b9) | 0;
  let z = state.s;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/** Create a generator from an integer seed (any finite number; the low 32 bits and the high part are mixed). */
export function createRng(seed = 1): Rng {
  const mix = { s: (seed | 0) ^ Math.floor(seed / 4294967296) };
  let a = splitmix32(mix);
  let b = splitmix32(mix);
  let c = splitmix32(mix);
  let d = splitmix32(mix);
  if ((a | b | c | d) === 0) a = 1;

  const next32 = (): number => {
    const result = Math.imul(rotl(Math.imul(b, 5), 7), 9) >>> 0;
    const t = b << 9;
    c ^= a;
    d ^= b;
    b ^= c;
    a ^= d;
    c ^= t;
    d = rotl(d, 11);
    return result;
  };

  const uniform = (): number => {
    const hi = next32() >>> 5; // 27 bits
    const lo = next32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  };

  let spare = 0;
  let hasSpare = false;
  const normal = (): number => {
    if (hasSpare) {
      hasSpare = false;
      return spare;
    }
    for (;;) {
      const u = 2 * uniform() - 1;
      const v = 2 * uniform() - 1;
      const s = u * u + v * v;
      if (s > 0 && s < 1) {
        const f = Math.sqrt((-2 * Math.log(s)) / s);
        spare = v * f;
        hasSpare = true;
        return u * f;
      }
    }
  };

  return {
    uniform,
    normal,
    fillNormal(out: Float64Array, scale = 1): Float64Array {
      for (let i = 0; i < out.length; i++) out[i] = scale * normal();
      return out;
    },
    fillSigns(out: Float32Array | Float64Array, start = 0, end = out.length): void {
      for (let i = start; i < end;) {
        let bits = next32();
        const stop = Math.min(end, i + 32);
        for (; i < stop; i++, bits >>>= 1) out[i] = bits & 1 ? 1 : -1;
      }
    },
  };
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** A new Float64Array of `n` N(0, scale²) samples from a fresh generator seeded with `seed`. */
export function gaussianArray(n: number, seed: number, scale = 1): Float64Array {
  return createRng(seed).fillNormal(new Float64Array(n), scale);
}
