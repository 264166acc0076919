// A blocked single-precision GEMM for WebAssembly SIMD (128-bit), written to
// test whether a matrix product of our own could beat the one tfjs-wasm ships
// (XNNPACK) inside an MAE training step. See gemm-bench.ts and
// docs/performance.md ("A GEMM of our own"). Not used by the library.
//
// C[M,N] = op(A)[M,K] @ op(B)[K,N] (+ bias[N]), row-major, float32, with
// Goto-style blocking (NC x KC panels of B, MC x KC panels of A, both packed)
// and an MR x 8 register tile. -DRELAXED uses relaxed SIMD's fused
// multiply-add (f32x4.relaxed_madd) instead of a multiply and an add.
//
// The module imports tfjs-wasm's own memory, so it reads and writes tensors
// in place. It must touch no memory but the tensors and the scratch buffer
// it is given: no stack, no data segment (`llvm-objdump-16 -d` of the build
// shows no global.get, i.e. no stack pointer in use), so it cannot collide
// with tfjs-wasm's static data.
#include <wasm_simd128.h>
#include <stdint.h>

#ifndef MR
#define MR 4
#endif
#define NR 8
#define KC 256
#define MC (MR * 16)  // a multiple of MR: pack_a fills whole MR-row panels
#define NC 512

#ifdef RELAXED
#define MADD(a, b, c) __builtin_wasm_relaxed_madd_f32x4(a, b, c)
#else
#define MADD(a, b, c) wasm_f32x4_add(c, wasm_f32x4_mul(a, b))
#endif

static void pack_b(int kc, int nc, const float* B, int ldb, int tb, int k0, int j0, float* out) {
  for (int jp = 0; jp < nc; jp += NR) {
    int nr = nc - jp < NR ? nc - jp : NR;
    float* o = out + jp * kc;
    if (!tb) {
      const float* src = B + (long)k0 * ldb + j0 + jp;
      if (nr == NR) {
        for (int k = 0; k < kc; k++) {
          wasm_v128_store(o + k * NR, wasm_v128_load(src + (long)k * ldb));
          wasm_v128_store(o + k * NR + 4, wasm_v128_load(src + (long)k * ldb + 4));
        }
      } else {
        for (int k = 0; k < kc; k++) {
          for (int j = 0; j < NR; j++) o[k * NR + j] = j < nr ? src[(long)k * ldb + j] : 0.f;
        }
      }
    } else {
      // B stored [N, K]: element (k, j) at B[j * ldb + k].
      for (int j = 0; j < NR; j++) {
        if (j < nr) {
          const float* src = B + (long)(j0 + jp + j) * ldb + k0;
          for (int k = 0; k < kc; k++) o[k * NR + j] = src[k];
        } else {
          for (int k = 0; k < kc; k++) o[k * NR + j] = 0.f;
        }
      }
    }
  }
}

static void pack_a(int mc, int kc, const float* A, int lda, int ta, int i0, int k0, float* out) {
  for (int ip = 0; ip < mc; ip += MR) {
    int mr = mc - ip < MR ? mc - ip : MR;
    float* o = out + ip * kc;
    if (!ta) {
      for (int r = 0; r < MR; r++) {
        if (r < mr) {
          const float* src = A + (long)(i0 + ip + r) * lda + k0;
          for (int k = 0; k < kc; k++) o[k * MR + r] = src[k];
        } else {
          for (int k = 0; k < kc; k++) o[k * MR + r] = 0.f;
        }
      }
    } else {
      // A stored [K, M]: element (i, k) at A[k * lda + i].
      for (int k = 0; k < kc; k++) {
        const float* src = A + (long)(k0 + k) * lda + i0 + ip;
        for (int r = 0; r < MR; r++) o[k * MR + r] = r < mr ? src[r] : 0.f;
      }
    }
  }
}

// acc += Apanel[kc x MR] * Bpanel[kc x NR]; then C = acc (+ C if accumulate) for mr x nr.
static void micro(int kc, const float* a, const float* b, float* C, int ldc, int mr, int nr, int accumulate, const float* bias, float* tmp) {
  v128_t c00 = wasm_f32x4_splat(0), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
#if MR == 6
  v128_t c40 = c00, c41 = c00, c50 = c00, c51 = c00;
#endif
  for (int k = 0; k < kc; k++) {
    v128_t b0 = wasm_v128_load(b), b1 = wasm_v128_load(b + 4);
    v128_t a0 = wasm_v128_load32_splat(a), a1 = wasm_v128_load32_splat(a + 1);
    v128_t a2 = wasm_v128_load32_splat(a + 2), a3 = wasm_v128_load32_splat(a + 3);
    c00 = MADD(a0, b0, c00); c01 = MADD(a0, b1, c01);
    c10 = MADD(a1, b0, c10); c11 = MADD(a1, b1, c11);
    c20 = MADD(a2, b0, c20); c21 = MADD(a2, b1, c21);
    c30 = MADD(a3, b0, c30); c31 = MADD(a3, b1, c31);
#if MR == 6
    v128_t a4 = wasm_v128_load32_splat(a + 4), a5 = wasm_v128_load32_splat(a + 5);
    c40 = MADD(a4, b0, c40); c41 = MADD(a4, b1, c41);
    c50 = MADD(a5, b0, c50); c51 = MADD(a5, b1, c51);
#endif
    a += MR; b += NR;
  }
#define STORE_ROW(r, v0in, v1in) do { if (r < mr) { \
    float* c = C + (long)(r) * ldc; v128_t v0 = v0in, v1 = v1in; \
    if (nr == NR) { \
      if (accumulate) { v0 = wasm_f32x4_add(v0, wasm_v128_load(c)); v1 = wasm_f32x4_add(v1, wasm_v128_load(c + 4)); } \
      else if (bias) { v0 = wasm_f32x4_add(v0, wasm_v128_load(bias)); v1 = wasm_f32x4_add(v1, wasm_v128_load(bias + 4)); } \
      wasm_v128_store(c, v0); wasm_v128_store(c + 4, v1); \
    } else { \
      wasm_v128_store(tmp, v0); wasm_v128_store(tmp + 4, v1); \
      for (int j = 0; j < nr; j++) c[j] = accumulate ? c[j] + tmp[j] : tmp[j] + (bias ? bias[j] : 0.f); \
    } } } while (0)
  STORE_ROW(0, c00, c01); STORE_ROW(1, c10, c11); STORE_ROW(2, c20, c21); STORE_ROW(3, c30, c31);
#if MR == 6
  STORE_ROW(4, c40, c41); STORE_ROW(5, c50, c51);
#endif
}

// scratch: at least (KC * NC + MC * KC + 8) floats (gemm-bench.ts allocates for MR <= 6).
__attribute__((export_name("gemm")))
void gemm(int M, int N, int K, const float* A, int ta, const float* B, int tb, float* C, const float* bias, float* scratch) {
  int lda = ta ? M : K, ldb = tb ? K : N, ldc = N;
  float* pb = scratch;
  float* pa = scratch + KC * NC;
  float* tmp = pa + MC * KC;
  if (K == 0) {
    for (int i = 0; i < M; i++) for (int j = 0; j < N; j++) C[(long)i * ldc + j] = bias ? bias[j] : 0.f;
    return;
  }
  for (int j0 = 0; j0 < N; j0 += NC) {
    int nc = N - j0 < NC ? N - j0 : NC;
    for (int k0 = 0; k0 < K; k0 += KC) {
      int kc = K - k0 < KC ? K - k0 : KC;
      pack_b(kc, nc, B, ldb, tb, k0, j0, pb);
      for (int i0 = 0; i0 < M; i0 += MC) {
        int mc = M - i0 < MC ? M - i0 : MC;
        pack_a(mc, kc, A, lda, ta, i0, k0, pa);
        for (int jp = 0; jp < nc; jp += NR) {
          int nr = nc - jp < NR ? nc - jp : NR;
          for (int ip = 0; ip < mc; ip += MR) {
            int mr = mc - ip < MR ? mc - ip : MR;
            micro(kc, pa + ip * kc, pb + jp * kc, C + (long)(i0 + ip) * ldc + j0 + jp, ldc, mr, nr, k0 > 0,
                  bias ? bias + j0 + jp : 0, tmp);
          }
        }
      }
    }
  }
}
