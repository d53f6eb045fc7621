/* Forward pass of a reward MLP (Linear, Mish, ..., Mish, Linear) in float32, AVX2 + FMA.
 *
 * The env wrappers score a handful of windows per env step. NumPy spends most of that on
 * packing the weights for BLAS and on the seven passes of its Mish; this kernel does each
 * layer in one pass: the rows of a block of up to 8 inputs stay in registers, the weights,
 * packed once by the caller in the order they are read, stream once per block, and bias
 * and Mish are applied before the store.
 *
 * Built by setup.py as the optional extension rr_gym.wrappers._mlp_kernel (no Python API:
 * rr_gym/wrappers/native.py calls it through ctypes, after rr_mlp_supported() says the CPU
 * has AVX2 and FMA). Without a compiler, on another architecture or on an older CPU the
 * wrappers use NumPy instead; either path is checked against the model's forward.
 *
 * Numerics: float32 accumulation in input order per output (FMA), exp by range reduction
 * and a degree-7 Taylor polynomial (about 1 ulp on the range used), Mish as
 * x * n / (n + 2) with n = e (e + 2), e = exp(min(x, 20)), which is x * tanh(softplus(x)).
 * Mish is 0 below -87 (|x| e^x < 1e-35 there); NaN propagates.
 */
#include <stdint.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define RR_HAVE_KERNEL 1
#define RR_AVX2 __attribute__((target("avx2,fma")))
#define RR_INLINE static inline __attribute__((always_inline))
#endif

#define RR_BLOCK 8 /* input rows per block: one 8-float accumulator each, per 8 outputs */

/* Version of the interface below; native.py refuses a library built from another version
 * (an editable install does not recompile when this file changes). */
int rr_mlp_abi(void) { return 1; }

/* 1 when this build has the kernel and the CPU runs it, else 0. */
int rr_mlp_supported(void) {
#ifdef RR_HAVE_KERNEL
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return 0;
#endif
}

#ifdef RR_HAVE_KERNEL

/* exp(x) for x in [-87, 20] (or NaN): x = k ln2 + r, |r| <= ln2 / 2, exp(r) by Taylor. */
RR_AVX2 RR_INLINE __m256 rr_exp(__m256 x) {
    const __m256 k = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(k, _mm256_set1_ps(0.693359375f), x); /* ln2, high part */
    r = _mm256_fnmadd_ps(k, _mm256_set1_ps(-2.12194440e-4f), r);    /* ln2, low part */
    __m256 p = _mm256_set1_ps(1.0f / 5040.0f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 720.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    /* 2^k from the exponent bits; k >= -126 here, so 2^k is a normal float */
    const __m256i bits = _mm256_slli_epi32(
        _mm256_add_epi32(_mm256_cvtps_epi32(k), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(bits));
}

RR_AVX2 RR_INLINE __m256 rr_mish(__m256 x) {
    const __m256 low = _mm256_set1_ps(-87.0f);
    /* min/max return their second operand when one is NaN: x's NaN survives both */
    const __m256 z = _mm256_max_ps(low, _mm256_min_ps(_mm256_set1_ps(20.0f), x));
    const __m256 two = _mm256_set1_ps(2.0f);
    const __m256 e = rr_exp(z);
    const __m256 n = _mm256_mul_ps(e, _mm256_add_ps(e, two));
    const __m256 y = _mm256_mul_ps(x, _mm256_div_ps(n, _mm256_add_ps(n, two)));
    return _mm256_andnot_ps(_mm256_cmp_ps(x, low, _CMP_LT_OQ), y); /* 0 below -87 */
}

/* out[r, j] = act(b[j] + sum_k h[r, k] W[k, j]) for the rows r < NR of one block and the
 * outputs j of panels p .. p + CB - 1 (8 each; only the lanes in mask are stored when
 * MASKED, then CB = 1). W is packed (see rr_mlp_forward); h and out have row strides ldh
 * and ldo. NR, CB and MASKED are constants at every call site, so the loops unroll into
 * NR * CB <= 8 independent accumulators, and each panel streams through memory in order. */
RR_AVX2 RR_INLINE void rr_panels(const float *h, int64_t ldh, const int NR, const int CB, int K,
                                 const float *W, const float *b, int p, float *out, int64_t ldo,
                                 int act, const int MASKED, __m256i mask) {
    __m256 acc[RR_BLOCK];
    const float *panel = W + (int64_t)p * K * 8;
#pragma GCC unroll 8
    for (int c = 0; c < CB; c++) {
        const __m256 bias = _mm256_loadu_ps(b + 8 * (p + c));
#pragma GCC unroll 8
        for (int r = 0; r < NR; r++) acc[r * CB + c] = bias;
    }
    for (int k = 0; k < K; k++) {
        __m256 w[RR_BLOCK];
#pragma GCC unroll 8
        for (int c = 0; c < CB; c++) w[c] = _mm256_loadu_ps(panel + ((int64_t)c * K + k) * 8);
#pragma GCC unroll 8
        for (int r = 0; r < NR; r++) {
            const __m256 hr = _mm256_broadcast_ss(h + r * ldh + k);
#pragma GCC unroll 8
            for (int c = 0; c < CB; c++)
                acc[r * CB + c] = _mm256_fmadd_ps(hr, w[c], acc[r * CB + c]);
        }
    }
#pragma GCC unroll 8
    for (int r = 0; r < NR; r++) {
#pragma GCC unroll 8
        for (int c = 0; c < CB; c++) {
            const __m256 v = act ? rr_mish(acc[r * CB + c]) : acc[r * CB + c];
            float *o = out + r * ldo + 8 * (p + c);
            if (MASKED)
                _mm256_maskstore_ps(o, mask, v);
            else
                _mm256_storeu_ps(o, v);
        }
    }
}

/* A layer for NR rows; few rows take several panels at once, so that there are always
 * 6-8 independent FMA chains. */
RR_AVX2 RR_INLINE void rr_layer_rows(const float *h, int64_t ldh, const int NR, int K,
                                     const float *W, const float *b, int M, float *out,
                                     int64_t ldo, int act) {
    const int CB = NR == 1 ? 8 : NR == 2 ? 4 : NR <= 4 ? 2 : 1;
    const int full = M / 8;
    const __m256i all = _mm256_set1_epi32(-1);
    int p = 0;
    for (; p + CB <= full; p += CB) rr_panels(h, ldh, NR, CB, K, W, b, p, out, ldo, act, 0, all);
    for (; p < full; p++) rr_panels(h, ldh, NR, 1, K, W, b, p, out, ldo, act, 0, all);
    if (M % 8) {
        const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(M % 8), lane);
        rr_panels(h, ldh, NR, 1, K, W, b, p, out, ldo, act, 1, mask);
    }
}

/* One layer for a block of nr (1..RR_BLOCK) rows: dispatch to a copy with nr constant. */
RR_AVX2 static void rr_layer(const float *h, int64_t ldh, int nr, int K, const float *W,
                             const float *b, int M, float *out, int64_t ldo, int act) {
    switch (nr) {
#define RR_CASE(NR) \
    case NR: rr_layer_rows(h, ldh, NR, K, W, b, M, out, ldo, act); break;
        RR_CASE(1) RR_CASE(2) RR_CASE(3) RR_CASE(4) RR_CASE(5) RR_CASE(6) RR_CASE(7) RR_CASE(8)
#undef RR_CASE
    }
}

#endif /* RR_HAVE_KERNEL */

/* Forward pass of n_layers layers on n inputs.
 *
 * x: (n, dims[0]) row-major; out: (n, dims[n_layers]); scratch: 2 * RR_BLOCK * (largest
 * hidden size, rounded up to 8) floats. Layer l maps K = dims[l] inputs to M = dims[l + 1]
 * outputs; its weights come packed in panels of 8 outputs, weights[l][(p * K + k) * 8 + c]
 * = W[k, 8 p + c] (zero past M), and its bias padded with zeros to a multiple of 8. Mish
 * follows every layer but the last.
 *
 * Returns 0, or -1 when the build has no kernel (check rr_mlp_supported() first).
 */
int rr_mlp_forward(const float *x, int64_t n, int n_layers, const int32_t *dims,
                   const float *const *weights, const float *const *biases, float *scratch,
                   float *out) {
#ifdef RR_HAVE_KERNEL
    int hidden = 8;
    for (int l = 1; l < n_layers; l++)
        if (dims[l] > hidden) hidden = (dims[l] + 7) / 8 * 8;
    for (int64_t r0 = 0; r0 < n; r0 += RR_BLOCK) {
        const int nr = (int)(n - r0 < RR_BLOCK ? n - r0 : RR_BLOCK);
        const float *h = x + r0 * dims[0];
        int64_t ldh = dims[0];
        for (int l = 0; l < n_layers; l++) {
            const int last = l == n_layers - 1;
            float *dst = last ? out + r0 * dims[n_layers] : scratch + (l % 2) * RR_BLOCK * hidden;
            rr_layer(h, ldh, nr, dims[l], weights[l], biases[l], dims[l + 1], dst, dims[l + 1],
                     !last);
            h = dst;
            ldh = dims[l + 1];
        }
    }
    return 0;
#else
    (void)x; (void)n; (void)n_layers; (void)dims; (void)weights; (void)biases; (void)scratch;
    (void)out;
    return -1;
#endif
}
