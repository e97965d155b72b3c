#include "backend/cuda/w4a16_gemm.cuh"

#include <cuda_bf16.h>

#include <algorithm>
#include <type_traits>

#include "backend/cuda/common.cuh"
#include "backend/cuda/int4_tiles.h"
#include "backend/cuda/sm90_ptx.cuh"
#include "backend/cuda/tensor_map.h"

namespace tern::cuda {
namespace {

constexpr int kConsumerWarps = 8;  // two warpgroups, 16 weight rows a warp
constexpr int kConsumerThreads = kConsumerWarps * 32;
constexpr int kThreads = kConsumerThreads + 128;  // and the producer warpgroup (one thread of it issues)
// Registers a thread: the producer warpgroup gives most of its share to the consumers'
// accumulators (128 + 2 x 256 threads x ... must fit the SM's 64 K).
constexpr int kProducerRegisters = 40, kConsumerRegisters = 232;
static_assert(128 * kProducerRegisters + kConsumerThreads * kConsumerRegisters <= 65536);
constexpr int kMaxStages = 8;  // the deepest ring of w4a16_tile_config
constexpr int kTileBytes = kInt4TileRows * kInt4TileCols / 2;  // 512: one 16 x 64 weight tile
constexpr int kWordBytes = kInt4TileRows * 4;                  // a row tile's 16 scale words of one group

struct Args {
  int m, n, k;
  int row_tiles, k_tiles, group_shift, num_groups;
  int stage_groups;  // scale groups a stage reads: 64 KC / group size, at least 1
  int token_tiles, slices, tiles_per_slice;
  int64_t units;
};

struct Unit {
  int row_block, token_tile, slice, first_tile, num_tiles;
};

__device__ __forceinline__ Unit unit_at(int64_t u, const Args& a) {
  Unit t;
  t.slice = int(u % a.slices);
  const int64_t rest = u / a.slices;
  t.token_tile = int(rest % a.token_tiles);
  t.row_block = int(rest / a.token_tiles);
  t.first_tile = t.slice * a.tiles_per_slice;
  t.num_tiles = min(a.tiles_per_slice, a.k_tiles - t.first_tile);
  return t;
}

// Byte offsets inside one pipeline stage (w4a16_schedule.h): activation boxes first, each
// TN x 128 bytes and so 1024-aligned, then the weight tiles, then the scale words.
template <int TN, int KC>
struct StageLayout {
  static constexpr int kXBox = TN * 128;
  static constexpr int kW = KC * kXBox;
  static constexpr int kS = kW + kConsumerWarps * KC * kTileBytes;
  static constexpr int kGroupsPerRowTile = 2 * KC;  // room for the most a stage reads: 32-column groups
  static constexpr int kBytes = kS + kConsumerWarps * kGroupsPerRowTile * kWordBytes;
};

// One bf16x2 A register: (code - zero) * scale for the two nibbles 16 bits apart at the
// bottom of each half of `bits`. 0x4300 | q is the bf16 number 128 + q; subtracting the
// biased zero (128 + zero) is exact, the product rounds once.
__device__ __forceinline__ uint32_t dequant_pair(uint32_t bits, uint32_t biased_zero, uint32_t scale) {
  const uint32_t biased = (bits & 0x000F000Fu) | 0x43004300u;
  const __nv_bfloat162 v = __hmul2(__hsub2(*reinterpret_cast<const __nv_bfloat162*>(&biased),
                                           *reinterpret_cast<const __nv_bfloat162*>(&biased_zero)),
                                   *reinterpret_cast<const __nv_bfloat162*>(&scale));
  return *reinterpret_cast<const uint32_t*>(&v);
}

// The scale and biased zero (128 + zero) of one row and group as bf16 pairs, from the
// word of int4_tiles.h that holds each as one bf16.
struct GroupPair {
  uint32_t scale, biased_zero;
};

__device__ __forceinline__ GroupPair group_pair(uint32_t word) {
  return {__byte_perm(word, 0, 0x1010), __byte_perm(word, 0, 0x3232)};
}

__device__ __forceinline__ void gpu_fence_acq_rel() { asm volatile("fence.acq_rel.gpu;\n" ::: "memory"); }

__device__ __forceinline__ void consumer_sync() { asm volatile("bar.sync 1, %0;\n" ::"n"(kConsumerThreads) : "memory"); }

__device__ __forceinline__ void store_value(float* out, float v) { *out = v; }
__device__ __forceinline__ void store_value(__nv_bfloat16* out, float v) { *out = __float2bfloat16(v); }
__device__ __forceinline__ float load_value(const float* p) { return *p; }
__device__ __forceinline__ float load_value(const __nv_bfloat16* p) { return __bfloat162float(*p); }

template <int TN, int KC, int STAGES, typename OutT>
__global__ void __launch_bounds__(kThreads, 1)
    w4a16_kernel(const __grid_constant__ CUtensorMap x_map, const __grid_constant__ CUtensorMap w_map,
                 const __grid_constant__ CUtensorMap s_map, const OutT* __restrict__ bias, OutT* __restrict__ out,
                 float* __restrict__ partials, int* __restrict__ counters, const Args a) {
#ifdef TERN_SM90A
  using Layout = StageLayout<TN, KC>;
  // Tokens per wgmma instruction: at least two instructions per k16 step, without which
  // ptxas 13.0 serialises the wgmmas of a group (C7513).
  constexpr int kChunkTokens = TN / 2;
  constexpr int kChunks = TN / kChunkTokens;
  static_assert(STAGES <= kMaxStages, "barrier arrays");
  pdl_trigger();

  extern __shared__ uint8_t shared_raw[];
  __shared__ uint64_t full[kMaxStages], empty[kMaxStages];
  __shared__ int last_slice_flag;
  uint8_t* shared = shared_raw + ((1024 - (sm90::shared_address(shared_raw) & 1023)) & 1023);
  // The warp index through a shuffle, so the compiler sees it is the same in the whole warp.
  const int warp = __shfl_sync(0xFFFFFFFFu, int(threadIdx.x) / 32, 0), lane = threadIdx.x % 32;
  if (threadIdx.x == 0) {
    for (int s = 0; s < STAGES; ++s) {
      sm90::mbarrier_init(&full[s], 1);                // the producer's arrive_expect_tx
      sm90::mbarrier_init(&empty[s], kConsumerWarps);  // one arrival per consumer warp
    }
    sm90::fence_barrier_init();
  }
  __syncthreads();

  if (warp >= kConsumerWarps) {
    sm90::release_registers<kProducerRegisters>();
    // The producer: three TMA copies a stage (weights, scale words, activations; a partial
    // last stage reads past its slice, harmlessly). Weights and scale words are read
    // before the previous kernel has finished; activations only after pdl_wait, so the
    // first stages' activation boxes wait in `pending` until the ring is full (or the work
    // ends).
    if (warp != kConsumerWarps || lane != 0) return;
    struct XLoad {
      int col_tile, row;
    };
    XLoad pending[STAGES];
    int num_pending = 0, step = 0;
    bool x_ready = false;
    const uint32_t stage_bytes = KC * Layout::kXBox + kConsumerWarps * (KC * kTileBytes + a.stage_groups * kWordBytes);
    auto load_x = [&](int slot, const XLoad& x) {
      uint8_t* stage = shared + size_t(slot) * Layout::kBytes;
#pragma unroll
      for (int j = 0; j < KC; ++j)
        sm90::tensor_copy_2d(stage + j * Layout::kXBox, &x_map, (x.col_tile + j) * kInt4TileCols, x.row, &full[slot]);
    };
    auto release_x = [&] {
      pdl_wait();
      x_ready = true;
      for (int i = 0; i < num_pending; ++i) load_x(i, pending[i]);
    };
    for (int64_t u = blockIdx.x; u < a.units; u += gridDim.x) {
      const Unit t = unit_at(u, a);
      const int first_row_tile = t.row_block * kConsumerWarps;
      for (int kt = t.first_tile; kt < t.first_tile + t.num_tiles; kt += KC) {
        const int slot = step % STAGES;
        if (!x_ready && step == STAGES) release_x();
        sm90::mbarrier_wait(&empty[slot], ((step / STAGES) & 1) ^ 1);
        sm90::mbarrier_arrive_expect_tx(&full[slot], stage_bytes);
        uint8_t* stage = shared + size_t(slot) * Layout::kBytes;
        sm90::tensor_copy_3d(stage + Layout::kW, &w_map, 0, kt, first_row_tile, &full[slot]);
        sm90::tensor_copy_3d(stage + Layout::kS, &s_map, 0, (kt * kInt4TileCols) >> a.group_shift, first_row_tile,
                             &full[slot]);
        const XLoad x{kt, t.token_tile * TN};
        if (x_ready)
          load_x(slot, x);
        else
          pending[num_pending++] = x;
        ++step;
      }
    }
    if (!x_ready) release_x();
    return;
  }

  // The consumers: warp w owns weight rows 16 w .. 16 w + 15 of the block's 128, and is
  // warp w % 4 of warpgroup w / 4. Each stage is one wgmma group; its A registers (16 per
  // tile) are made while the previous stage's group runs, in the other of two register
  // buffers (compile-time indexed by unrolling the stage loop by two). A wgmma waits for
  // the one before it on the same accumulators, so where the wgmmas are short (small token
  // tiles) and that chain would set the pace, k16 steps accumulate round-robin into
  // kAccSets sets, added at the end. A partial last stage still issues every wgmma of a
  // stage (ptxas pipelines only groups of one shape): its missing tiles multiply zeros
  // with the stage's first activation tile.
  sm90::claim_registers<kConsumerRegisters>();
  constexpr int kAccSets = TN == 16 ? 4 : (TN == 256 ? 1 : 2);
  int step = 0;  // stages consumed by this block, over all its units
  for (int64_t u = blockIdx.x; u < a.units; u += gridDim.x) {
    const Unit t = unit_at(u, a);
    // Rows past n (the last row block) read zero codes and scales (TMA fills past the
    // end with zeros), so they compute zeros, which are not stored.
    const bool has_rows = t.row_block * kConsumerWarps + warp < a.row_tiles;
    float acc[kAccSets][TN / 2];
#pragma unroll
    for (int set = 0; set < kAccSets; ++set)
#pragma unroll
      for (int i = 0; i < TN / 2; ++i) acc[set][i] = 0.0f;
    uint32_t A[2][KC][4][4];
    int held_slot = -1, held2_slot = -1;  // the stages of the last two groups
    auto release = [&](int s) {
      if (lane == 0) sm90::mbarrier_arrive(&empty[s]);
    };
    auto fence_acc = [&] {
#pragma unroll
      for (int set = 0; set < kAccSets; ++set) sm90::fence_registers(acc[set]);
    };

    auto stage_step = [&](int kt, auto buffer) {
      constexpr int B = decltype(buffer)::value;
      const int nt = min(KC, t.first_tile + t.num_tiles - kt);
      const int slot = step % STAGES;
      sm90::mbarrier_wait(&full[slot], (step / STAGES) & 1);
      ++step;
      const uint8_t* stage = shared + size_t(slot) * Layout::kBytes;
      // All but the last group are done: buffer B is free, and the stage before last too.
      sm90::wgmma_wait<1>();
      fence_acc();
      if (held2_slot >= 0) release(held2_slot);
      const int g0 = (kt * kInt4TileCols) >> a.group_shift;
      const uint32_t* stage_words =
          reinterpret_cast<const uint32_t*>(stage + Layout::kS) + warp * a.stage_groups * kInt4TileRows + lane / 4;
#pragma unroll
      for (int j = 0; j < KC; ++j) {
        uint32_t(&regs)[4][4] = A[B][j];
        const bool present = j < nt;
        const uint32_t mask = present ? ~0u : 0u;
        uint4 codes = *reinterpret_cast<const uint4*>(stage + Layout::kW + (warp * KC + (present ? j : 0)) * kTileBytes +
                                                      lane * 16);
        codes.x &= mask, codes.y &= mask, codes.z &= mask, codes.w &= mask;
        const int col = (kt + j) * kInt4TileCols;
        const int g_first = present ? (col >> a.group_shift) - g0 : 0;
        const int g_second = present ? ((col + 32) >> a.group_shift) - g0 : 0;
        const GroupPair pairs[2][2] = {// [half of the tile][row r, row r + 8]
                                       {group_pair(stage_words[g_first * kInt4TileRows] & mask),
                                        group_pair(stage_words[g_first * kInt4TileRows + 8] & mask)},
                                       {group_pair(stage_words[g_second * kInt4TileRows] & mask),
                                        group_pair(stage_words[g_second * kInt4TileRows + 8] & mask)}};
#pragma unroll
        for (int s = 0; s < 4; ++s) {  // k16 step s of the tile: word s of the lane
          const uint32_t word = (&codes.x)[s];
          const GroupPair& lo = pairs[s / 2][0];
          const GroupPair& hi = pairs[s / 2][1];
          regs[s][0] = dequant_pair(word, lo.biased_zero, lo.scale);
          regs[s][1] = dequant_pair(word >> 4, hi.biased_zero, hi.scale);
          regs[s][2] = dequant_pair(word >> 8, lo.biased_zero, lo.scale);
          regs[s][3] = dequant_pair(word >> 12, hi.biased_zero, hi.scale);
        }
      }
      // Descriptors differ in their low word only (shared addresses stay below 256 KB).
      const uint64_t x_stage = sm90::kmajor_sw128_descriptor(sm90::shared_address(stage));
#pragma unroll
      for (int j = 0; j < KC; ++j)
#pragma unroll
        for (int s = 0; s < 4; ++s) sm90::fence_registers(A[B][j][s]);
      fence_acc();
      sm90::wgmma_fence();
#pragma unroll
      for (int j = 0; j < KC; ++j)
#pragma unroll
        for (int s = 0; s < 4; ++s)
#pragma unroll
          for (int c = 0; c < kChunks; ++c) {
            const int x_tile = j < nt ? j : 0;
            const uint64_t b = x_stage + uint64_t((x_tile * Layout::kXBox + c * kChunkTokens * 128 + s * 32) >> 4);
            sm90::wgmma_m64k16<kChunkTokens>(acc[(4 * j + s) % kAccSets] + c * kChunkTokens / 2, A[B][j][s], b, true);
          }
      sm90::wgmma_commit();
      held2_slot = held_slot;
      held_slot = slot;
    };

    const int end = t.first_tile + t.num_tiles;
    for (int kt = t.first_tile; kt < end; kt += 2 * KC) {
      stage_step(kt, std::integral_constant<int, 0>{});
      if (kt + KC < end) stage_step(kt + KC, std::integral_constant<int, 1>{});
    }
    sm90::wgmma_wait<0>();
    fence_acc();
    if (held2_slot >= 0) release(held2_slot);
    release(held_slot);
#pragma unroll
    for (int set = 1; set < kAccSets; ++set)
#pragma unroll
      for (int i = 0; i < TN / 2; ++i) acc[0][i] += acc[set][i];
    float(&sum)[TN / 2] = acc[0];

    // Lane L holds, for each 8-token group v, rows r and r + 8 (r = 16 warp + L / 4) of
    // tokens 8 v + 2 (L % 4) and + 1: sum[4 v + e] is (row r + 8 (e / 2), token + e % 2).
    pdl_wait();  // `out` may still be read by the kernel before this one
    const int row = t.row_block * kW4BlockRows + warp * kInt4TileRows + lane / 4;
    const int token0 = t.token_tile * TN + 2 * (lane % 4);
    const float bias_lo = bias && has_rows ? load_value(bias + row) : 0.0f;
    const float bias_hi = bias && has_rows ? load_value(bias + row + 8) : 0.0f;
    auto store4 = [&](int v, float4 value) {
      if (!has_rows) return;
      const float vals[4] = {value.x, value.y, value.z, value.w};
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int token = token0 + 8 * v + e % 2;
        if (token < a.m) store_value(out + int64_t(token) * a.n + row + 8 * (e / 2), vals[e] + (e < 2 ? bias_lo : bias_hi));
      }
    };
    auto sum4 = [&](int v) { return make_float4(sum[4 * v], sum[4 * v + 1], sum[4 * v + 2], sum[4 * v + 3]); };
    if (a.slices == 1) {
#pragma unroll
      for (int v = 0; v < TN / 8; ++v) store4(v, sum4(v));
      continue;
    }
    const int64_t unit_rc = int64_t(t.row_block) * a.token_tiles + t.token_tile;
    auto slice_partials = [&](int s) {
      return reinterpret_cast<const float4*>(partials +
                                             ((unit_rc * a.slices + s) * kConsumerThreads + threadIdx.x) * (TN / 2));
    };
    float4* mine = const_cast<float4*>(slice_partials(t.slice));
#pragma unroll
    for (int v = 0; v < TN / 8; ++v) mine[v] = sum4(v);
    // The block's partials are published by one release at GPU scope after the barrier
    // (a fence per thread, as __threadfence, costs microseconds a unit); the last block
    // acquires them the same way.
    consumer_sync();
    if (threadIdx.x == 0) {
      gpu_fence_acq_rel();
      last_slice_flag = atomicAdd(counters + unit_rc, 1) == a.slices - 1;
      if (last_slice_flag) gpu_fence_acq_rel();
    }
    consumer_sync();
    if (!last_slice_flag) continue;
    // The sum in slice order, whichever block came last. Each thread's partials are
    // contiguous: a chunk of up to 4 float4 of the next slice is loaded while the current
    // one is added.
    constexpr int kChunk = TN / 8 < 4 ? TN / 8 : 4;
#pragma unroll
    for (int v0 = 0; v0 < TN / 8; v0 += kChunk) {
      float4 total[kChunk], next[kChunk];
      auto fetch = [&](int s, float4(&into)[kChunk]) {
#pragma unroll
        for (int c = 0; c < kChunk; ++c) into[c] = s == t.slice ? sum4(v0 + c) : __ldcg(slice_partials(s) + v0 + c);
      };
#pragma unroll
      for (int c = 0; c < kChunk; ++c) total[c] = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
      fetch(0, next);
      for (int s = 0; s < a.slices; ++s) {
        float4 current[kChunk];
#pragma unroll
        for (int c = 0; c < kChunk; ++c) current[c] = next[c];
        if (s + 1 < a.slices) fetch(s + 1, next);
#pragma unroll
        for (int c = 0; c < kChunk; ++c)
          total[c].x += current[c].x, total[c].y += current[c].y, total[c].z += current[c].z,
              total[c].w += current[c].w;
      }
#pragma unroll
      for (int c = 0; c < kChunk; ++c) store4(v0 + c, total[c]);
    }
    if (threadIdx.x == 0) counters[unit_rc] = 0;  // ready for the next launch
  }
#else
  __trap();  // built without sm_90a code: w4a16_supported() keeps the host from launching this
#endif
}

template <int TN, typename OutT>
void launch_typed(const W4A16Problem& p, const W4Schedule& s, cudaStream_t stream) {
  constexpr W4TileConfig kConfig = w4a16_tile_config(TN);
  auto kernel = w4a16_kernel<TN, kConfig.tiles_per_stage, kConfig.stages, OutT>;
  const size_t shared = w4a16_shared_bytes(s.tile);
  static_assert(StageLayout<TN, kConfig.tiles_per_stage>::kBytes == int(w4a16_stage_bytes(kConfig)));
  static const bool raised = [&] {
    CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(shared)));
    return true;
  }();
  (void)raised;
  const int64_t row_tiles = p.n / kInt4TileRows, k_tiles = p.k / kInt4TileCols;
  const int stage_cols = kConfig.tiles_per_stage * kInt4TileCols;
  const int stage_groups = p.num_groups == 1 ? 1 : std::max<int>(1, stage_cols / int(p.group_size));
  const Args args{.m = int(p.m),
                  .n = int(p.n),
                  .k = int(p.k),
                  .row_tiles = int(row_tiles),
                  .k_tiles = s.k_tiles,
                  .group_shift = p.num_groups == 1 ? 30 : __builtin_ctzll(uint64_t(p.group_size)),
                  .num_groups = int(p.num_groups),
                  .stage_groups = stage_groups,
                  .token_tiles = s.token_tiles,
                  .slices = s.slices,
                  .tiles_per_slice = s.tiles_per_slice,
                  .units = s.units()};
  // Weights as [row tiles][k tiles][128 words], scale words as [row tiles][groups][16]:
  // a stage's boxes are 8 row tiles of its tiles and groups.
  const CUtensorMap x_map = bf16_rows_sw128_map(p.x, p.m, p.k, TN);
  const CUtensorMap w_map =
      u32_map_3d(p.tiles, {128, uint64_t(k_tiles), uint64_t(row_tiles)}, {512, uint64_t(k_tiles) * 512},
                 {128, uint32_t(kConfig.tiles_per_stage), uint32_t(kConsumerWarps)}, "the INT4 weight tiles");
  const CUtensorMap s_map =
      u32_map_3d(p.words, {16, uint64_t(p.num_groups), uint64_t(row_tiles)}, {64, uint64_t(p.num_groups) * 64},
                 {16, uint32_t(stage_groups), uint32_t(kConsumerWarps)}, "the INT4 scale words");
  launch_overlapping(kernel, dim3(s.grid), dim3(kThreads), shared, stream, x_map, w_map, s_map,
                     static_cast<const OutT*>(p.bias), static_cast<OutT*>(p.out), p.partials, p.counters, args);
}

template <int TN>
void launch_tokens(const W4A16Problem& p, const W4Schedule& s, cudaStream_t stream) {
  if (p.out_dtype == DType::kF32)
    launch_typed<TN, float>(p, s, stream);
  else
    launch_typed<TN, __nv_bfloat16>(p, s, stream);
}

}  // namespace

bool w4a16_supported(int device) {
  int major = 0;
  CUDA_CHECK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device));
  return major == 9;
}

W4Device w4a16_device() {
  int device = 0, sms = 0, memory_khz = 0, bus_bits = 0, clock_khz = 0;
  CUDA_CHECK(cudaGetDevice(&device));
  CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));
  CUDA_CHECK(cudaDeviceGetAttribute(&memory_khz, cudaDevAttrMemoryClockRate, device));
  CUDA_CHECK(cudaDeviceGetAttribute(&bus_bits, cudaDevAttrGlobalMemoryBusWidth, device));
  CUDA_CHECK(cudaDeviceGetAttribute(&clock_khz, cudaDevAttrClockRate, device));
  W4Device d;
  d.sms = sms;
  // Datasheet rates times what is reached in practice (copy: ~89% on the H100).
  if (memory_khz > 0 && bus_bits > 0) d.bytes_per_s = 0.89 * 2.0 * memory_khz * 1e3 * bus_bits / 8;
  if (clock_khz > 0) d.flops_per_s = 0.8 * 4096.0 * sms * clock_khz * 1e3;
  return d;
}

void launch_w4a16_gemm(const W4A16Problem& p, const W4Schedule& s, cudaStream_t stream) {
  switch (s.tile.tokens) {
    case 16:
      return launch_tokens<16>(p, s, stream);
    case 32:
      return launch_tokens<32>(p, s, stream);
    case 64:
      return launch_tokens<64>(p, s, stream);
    case 128:
      return launch_tokens<128>(p, s, stream);
    case 256:
      return launch_tokens<256>(p, s, stream);
    default:
      throw error("w4a16: no kernel for a token tile of ", s.tile.tokens);
  }
}

}  // namespace tern::cuda
