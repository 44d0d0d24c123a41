/*
 * The cost of widening BF16 weights to double inside a one-row product, in C with AVX2 intrinsics: the floor
 * that BlockedGemv's Java kernel (VectorBf16.load: sign-extend, shift by 16, cvtps2pd, FMA) is compared with
 * in docs/PERFORMANCE.md (session 14). The loop has the shape of BlockedGemv.groupBf16: eight 4-row blocks side
 * by side, one broadcast activation per step, K = 1024 steps, the BF16 block data (64 KB) in L2. Five ways to get
 * a double vector for the FMA, best of 20 repetitions, nanoseconds per weight element:
 *   cvtps2pd ymm       pmovsxwd + pslld 16 + vcvtps2pd ymm (what the Java kernel compiles to)
 *   int shift+and      pmovsxwq + psllq 45 + pand: the BF16 pattern placed in a double's bits, which equals the
 *                      value times 2^-896 exactly (the activation would carry 2^896)
 *   double loads       weights already held as doubles (no widening; 4x the bytes, here from L2)
 *   unpack0+cvt        punpcklwd with zero (the shift for free) + vcvtps2pd ymm
 *   cvtps2pd xmm x2    two 128-bit conversions and FMAs per 4 elements
 * Build and run:  gcc -O2 -mavx2 -mfma tools/bench/bf16_widen.c -o /tmp/bf16_widen && /tmp/bf16_widen
 */
#include <immintrin.h>
#include <stdio.h>
#include <stdint.h>
#include <time.h>
#include <string.h>
/* monotonic seconds */
static double now(){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}
#define K 1024
#define B 8
static int16_t w[B][K*4] __attribute__((aligned(64)));
static double a[K];
__attribute__((noinline)) void va(double*c){ // cvtps2pd ymm
  __m256d acc[B]; for(int b=0;b<B;b++)acc[b]=_mm256_setzero_pd();
  for(int p=0;p<K;p++){ __m256d x=_mm256_broadcast_sd(a+p);
    for(int b=0;b<B;b++){ __m128i s=_mm_loadl_epi64((const __m128i*)(w[b]+p*4)); __m128i i=_mm_slli_epi32(_mm_cvtepi16_epi32(s),16);
      acc[b]=_mm256_fmadd_pd(_mm256_cvtps_pd(_mm_castsi128_ps(i)),x,acc[b]);}}
  for(int b=0;b<B;b++)_mm256_storeu_pd(c+4*b,acc[b]);}
__attribute__((noinline)) void vc(double*c){ // integer: pmovsxwq, psllq 45, pand -> *2^896 folded in x
  __m256d acc[B]; for(int b=0;b<B;b++)acc[b]=_mm256_setzero_pd();
  const __m256i m=_mm256_set1_epi64x(0x8FFFFFFFFFFFFFFFLL);
  for(int p=0;p<K;p++){ __m256d x=_mm256_broadcast_sd(a+p);
    for(int b=0;b<B;b++){ __m128i s=_mm_loadl_epi64((const __m128i*)(w[b]+p*4)); __m256i i=_mm256_and_si256(_mm256_slli_epi64(_mm256_cvtepi16_epi64(s),45),m);
      acc[b]=_mm256_fmadd_pd(_mm256_castsi256_pd(i),x,acc[b]);}}
  for(int b=0;b<B;b++)_mm256_storeu_pd(c+4*b,acc[b]);}
__attribute__((noinline)) void vd(double*c){ // plain double loads (reference: no conversion)
  static double wd[B][K*4]; __m256d acc[B]; for(int b=0;b<B;b++)acc[b]=_mm256_setzero_pd();
  for(int p=0;p<K;p++){ __m256d x=_mm256_broadcast_sd(a+p);
    for(int b=0;b<B;b++) acc[b]=_mm256_fmadd_pd(_mm256_loadu_pd(wd[b]+p*4),x,acc[b]);}
  for(int b=0;b<B;b++)_mm256_storeu_pd(c+4*b,acc[b]);}
__attribute__((noinline)) void ve(double*c){ // unpack with zero instead of movsx+shift, then cvtps2pd
  __m256d acc[B]; for(int b=0;b<B;b++)acc[b]=_mm256_setzero_pd(); __m128i z=_mm_setzero_si128();
  for(int p=0;p<K;p++){ __m256d x=_mm256_broadcast_sd(a+p);
    for(int b=0;b<B;b++){ __m128i s=_mm_loadl_epi64((const __m128i*)(w[b]+p*4)); __m128i i=_mm_unpacklo_epi16(z,s);
      acc[b]=_mm256_fmadd_pd(_mm256_cvtps_pd(_mm_castsi128_ps(i)),x,acc[b]);}}
  for(int b=0;b<B;b++)_mm256_storeu_pd(c+4*b,acc[b]);}
__attribute__((noinline)) void vf(double*c){ // 128-bit: two cvtps2pd xmm + two fma xmm per 4 elements
  __m128d acc[2*B]; for(int b=0;b<2*B;b++)acc[b]=_mm_setzero_pd();
  for(int p=0;p<K;p++){ __m128d x=_mm_set1_pd(a[p]);
    for(int b=0;b<B;b++){ __m128i s=_mm_loadl_epi64((const __m128i*)(w[b]+p*4)); __m128i i=_mm_slli_epi32(_mm_cvtepi16_epi32(s),16);
      __m128 f=_mm_castsi128_ps(i);
      acc[2*b]=_mm_fmadd_pd(_mm_cvtps_pd(f),x,acc[2*b]); acc[2*b+1]=_mm_fmadd_pd(_mm_cvtps_pd(_mm_movehl_ps(f,f)),x,acc[2*b+1]);}}
  for(int b=0;b<B;b++){_mm_storeu_pd(c+4*b,acc[2*b]);_mm_storeu_pd(c+4*b+2,acc[2*b+1]);}}
int main(){ for(int b=0;b<B;b++)for(int i=0;i<K*4;i++)w[b][i]=(int16_t)(0x3c00+((i*7+b)&0x3ff)); for(int p=0;p<K;p++)a[p]=1.0/(p+1);
  double c[32]; void (*f[])(double*)={va,vc,vd,ve,vf}; const char*n[]={"cvtps2pd ymm","int shift+and","double loads","unpack0+cvt","cvtps2pd xmm x2"};
  for(int v=0;v<5;v++){ double best=1e9; for(int r=0;r<20;r++){ double t0=now(); for(int it=0;it<200;it++) f[v](c); double t=(now()-t0)/200/(K*4.0*B); if(t<best)best=t;} printf("%-16s %.3f ns/el\n",n[v],best*1e9);} }
