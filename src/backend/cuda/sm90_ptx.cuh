// Hopper (sm_90a) building blocks in inline PTX, for kernels that feed the tensor cores
// from shared memory filled by the copy engines: mbarriers, bulk and tensor (TMA) copies,
// and warpgroup MMA (wgmma) with A in registers and B in shared memory.
//
// Only kernels compiled for sm_90a may call these (TERN_SM90A below is defined there);
// the host side checks the device before launching such a kernel.
#pragma once

#include <cuda.h>
#include <cuda_runtime.h>

#include <cstdint>

#if defined(__CUDA_ARCH__) && defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define TERN_SM90A 1
#endif

namespace tern::cuda::sm90 {

__device__ __forceinline__ uint32_t shared_address(const void* p) { return uint32_t(__cvta_generic_to_shared(p)); }

// ---- mbarriers ----------------------------------------------------------------------
// A barrier completes a phase when `count` arrivals have happened and every byte announced
// with arrive_expect_tx has landed. Waiters name the phase by its parity.

__device__ __forceinline__ void mbarrier_init(uint64_t* bar, uint32_t count) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(shared_address(bar)), "r"(count) : "memory");
}

// Makes initialised barriers visible to the copy engines (the async proxy).
__device__ __forceinline__ void fence_barrier_init() {
  asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
}

__device__ __forceinline__ void mbarrier_arrive_expect_tx(uint64_t* bar, uint32_t bytes) {
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(shared_address(bar)), "r"(bytes)
               : "memory");
}

__device__ __forceinline__ void mbarrier_arrive(uint64_t* bar) {
  asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];\n" ::"r"(shared_address(bar)) : "memory");
}

// Returns once the phase of parity `parity` has completed. A fresh barrier counts its
// phase "before" phase 0 (parity 1) as complete, so a producer's first wait on an empty
// slot returns at once.
__device__ __forceinline__ void mbarrier_wait(uint64_t* bar, uint32_t parity) {
  const uint32_t address = shared_address(bar);
  uint32_t done = 0;
  do {
    asm volatile(
        "{\n"
        ".reg .pred p;\n"
        "mbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\n"
        "selp.u32 %0, 1, 0, p;\n"
        "}\n"
        : "=r"(done)
        : "r"(address), "r"(parity)
        : "memory");
  } while (!done);
}

// ---- copies into shared memory, completing on an mbarrier -----------------------------

// `bytes` contiguous bytes (a multiple of 16; both addresses 16-byte aligned).
__device__ __forceinline__ void bulk_copy(void* shared_dst, const void* global_src, uint32_t bytes, uint64_t* bar) {
  asm volatile(
      "cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1], %2, [%3];\n" ::"r"(
          shared_address(shared_dst)),
      "l"(global_src), "r"(bytes), "r"(shared_address(bar))
      : "memory");
}

// One box of a 2-D tensor map at element coordinates (inner, outer). Elements outside the
// tensor are written as zeros and still count towards the barrier's bytes.
__device__ __forceinline__ void tensor_copy_2d(void* shared_dst, const CUtensorMap* map, int inner, int outer,
                                               uint64_t* bar) {
  asm volatile(
      "cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1, {%2, %3}], [%4];\n" ::"r"(
          shared_address(shared_dst)),
      "l"(reinterpret_cast<uint64_t>(map)), "r"(inner), "r"(outer), "r"(shared_address(bar))
      : "memory");
}

// ---- register budget ---------------------------------------------------------------------
// A warpgroup gives registers back to the block's pool (a producer that only issues
// copies) or takes them (consumers holding accumulators). Needs a register cap at kernel
// entry (__launch_bounds__(threads, 1)); every thread of the warpgroup executes it.
template <int kRegisters>
__device__ __forceinline__ void release_registers() {
#ifdef TERN_SM90A
  asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;\n" ::"n"(kRegisters));
#endif
}
template <int kRegisters>
__device__ __forceinline__ void claim_registers() {
#ifdef TERN_SM90A
  asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;\n" ::"n"(kRegisters));
#endif
}

// One box of a 3-D tensor map at element coordinates (c0 innermost, c1, c2).
__device__ __forceinline__ void tensor_copy_3d(void* shared_dst, const CUtensorMap* map, int c0, int c1, int c2,
                                               uint64_t* bar) {
  asm volatile(
      "cp.async.bulk.tensor.3d.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1, {%2, %3, %4}], "
      "[%5];\n" ::"r"(shared_address(shared_dst)),
      "l"(reinterpret_cast<uint64_t>(map)), "r"(c0), "r"(c1), "r"(c2), "r"(shared_address(bar))
      : "memory");
}

// ---- warpgroup MMA ---------------------------------------------------------------------
// A warpgroup is four consecutive warps starting at a multiple of four. In
// wgmma.m64nNk16 with A in registers, warp w of the group supplies rows 16w..16w+15 of A
// in the mma.m16n8k16 A-fragment layout (four bf16x2 registers: (r, k), (r + 8, k),
// (r, k + 8), (r + 8, k + 8) with r = lane / 4, k = 2 (lane % 4)), and receives rows
// 16w..16w+15 of D: for every 8 columns j, registers 4j..4j+3 hold (r, c), (r, c + 1),
// (r + 8, c), (r + 8, c + 1) with c = 8j + 2 (lane % 4).

// Descriptor of a K-major B operand in the 128-byte swizzle that a TMA copy with
// CU_TENSOR_MAP_SWIZZLE_128B writes: rows of 64 bf16 (128 bytes), 8-row groups 1024 bytes
// apart, the tile 1024-byte aligned. `address` may be advanced by 32 bytes per k16 step
// inside the 128-byte row (the swizzle is a function of the address bits).
__device__ __forceinline__ uint64_t kmajor_sw128_descriptor(uint32_t address) {
  constexpr uint64_t kStrideBytes = 1024;  // between 8-row groups
  constexpr uint64_t kSwizzle128 = 1;
  return uint64_t((address & 0x3FFFF) >> 4) | uint64_t(1) << 16 /* leading offset: unused when swizzled */ |
         (kStrideBytes >> 4) << 32 | kSwizzle128 << 62;
}

// Orders register writes by ordinary instructions before the wgmma that reads them.
__device__ __forceinline__ void wgmma_fence() { asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory"); }
__device__ __forceinline__ void wgmma_commit() { asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory"); }
template <int kPending>
__device__ __forceinline__ void wgmma_wait() {
  asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(kPending) : "memory");
}

// Keeps the compiler from moving the computation or use of wgmma operand registers
// (accumulators, A fragments) across the wgmma instructions: ptxas serialises wgmmas
// whose input registers are written between the fence and the wgmma.
template <int kCount>
__device__ __forceinline__ void fence_registers(float (&d)[kCount]) {
#pragma unroll
  for (int i = 0; i < kCount; ++i) asm volatile("" : "+f"(d[i])::"memory");
}
template <int kCount>
__device__ __forceinline__ void fence_registers(uint32_t (&r)[kCount]) {
#pragma unroll
  for (int i = 0; i < kCount; ++i) asm volatile("" : "+r"(r[i])::"memory");
}
template <int kCount>
__device__ __forceinline__ void fence_registers(uint64_t (&r)[kCount]) {
#pragma unroll
  for (int i = 0; i < kCount; ++i) asm volatile("" : "+l"(r[i])::"memory");
}

// D[64 x 8] (+)= A[64 x 16] B[16 x 8]; d: 4 registers. accumulate = false ignores D's old value.
__device__ __forceinline__ void wgmma_m64n8k16(float* d, const uint32_t (&a)[4], uint64_t b, bool accumulate) {
#ifdef TERN_SM90A
  asm volatile(
      "{\n"
      ".reg .pred p;\n"
      "setp.ne.b32 p, %9, 0;\n"
      "wgmma.mma_async.sync.aligned.m64n8k16.f32.bf16.bf16 {%0, %1, %2, %3}, {%4, %5, %6, %7}, %8, p, 1, 1, 0;\n"
      "}\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(b), "r"(int(accumulate)));
#endif
}

// D[64 x 64] (+)= A[64 x 16] B[16 x 64]; d: 32 registers.
__device__ __forceinline__ void wgmma_m64n64k16(float* d, const uint32_t (&a)[4], uint64_t b, bool accumulate) {
#ifdef TERN_SM90A
  asm volatile(
      "{\n"
      ".reg .pred p;\n"
      "setp.ne.b32 p, %37, 0;\n"
      "wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16 "
      "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "
      "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31}, "
      "{%32, %33, %34, %35}, %36, p, 1, 1, 0;\n"
      "}\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]),
        "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]),
        "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]),
        "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(b), "r"(int(accumulate)));
#endif
}

// D[64 x 16] (+)= A[64 x 16] B[16 x 16]; d: 8 registers.
__device__ __forceinline__ void wgmma_m64n16k16(float* d, const uint32_t (&a)[4], uint64_t b, bool accumulate) {
#ifdef TERN_SM90A
  asm volatile(
      "{\n"
      ".reg .pred p;\n"
      "setp.ne.b32 p, %13, 0;\n"
      "wgmma.mma_async.sync.aligned.m64n16k16.f32.bf16.bf16 {%0, %1, %2, %3, %4, %5, %6, %7}, {%8, %9, %10, %11}, %12, "
      "p, 1, 1, 0;\n"
      "}\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(b), "r"(int(accumulate)));
#endif
}

// D[64 x 32] (+)= A[64 x 16] B[16 x 32]; d: 16 registers.
__device__ __forceinline__ void wgmma_m64n32k16(float* d, const uint32_t (&a)[4], uint64_t b, bool accumulate) {
#ifdef TERN_SM90A
  asm volatile(
      "{\n"
      ".reg .pred p;\n"
      "setp.ne.b32 p, %21, 0;\n"
      "wgmma.mma_async.sync.aligned.m64n32k16.f32.bf16.bf16 "
      "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15}, {%16, %17, %18, %19}, %20, p, 1, 1, 0;\n"
      "}\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]),
        "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(b), "r"(int(accumulate)));
#endif
}

// D[64 x 128] (+)= A[64 x 16] B[16 x 128]; d: 64 registers.
__device__ __forceinline__ void wgmma_m64n128k16(float* d, const uint32_t (&a)[4], uint64_t b, bool accumulate) {
#ifdef TERN_SM90A
  asm volatile(
      "{\n"
      ".reg .pred p;\n"
      "setp.ne.b32 p, %69, 0;\n"
      "wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16 "
      "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, %48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63}, "
      "{%64, %65, %66, %67}, %68, p, 1, 1, 0;\n"
      "}\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]), "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]), "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(b), "r"(int(accumulate)));
#endif
}

// D[64 x N] (+)= A[64 x 16] B[16 x N] for N = 8, 16, 32, 64 or 128; d: N / 2 registers.
template <int N>
__device__ __forceinline__ void wgmma_m64k16(float* d, const uint32_t (&a)[4], uint64_t b, bool accumulate) {
  static_assert(N == 8 || N == 16 || N == 32 || N == 64 || N == 128, "wgmma_m64k16: N is 8, 16, 32, 64 or 128");
  if constexpr (N == 8)
    wgmma_m64n8k16(d, a, b, accumulate);
  else if constexpr (N == 16)
    wgmma_m64n16k16(d, a, b, accumulate);
  else if constexpr (N == 32)
    wgmma_m64n32k16(d, a, b, accumulate);
  else if constexpr (N == 64)
    wgmma_m64n64k16(d, a, b, accumulate);
  else
    wgmma_m64n128k16(d, a, b, accumulate);
}

}  // namespace tern::cuda::sm90
