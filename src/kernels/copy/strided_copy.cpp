#include "kernels/copy/strided_copy.h"

#include "kernels/copy/transpose.h"

#include <algorithm>
#include <cstring>

namespace kiln::kernels {

namespace {

/// The copy after dropping dims of size 1 and merging neighbours: dims[rank - 1] is the innermost.
struct Layout {
  size_t rank = 0;
  bool empty = false;
  int64_t dims[kMaxCopyRank];
  int64_t ds[kMaxCopyRank];  // dst strides
  int64_t ss[kMaxCopyRank];  // src strides
};

bool simplify(Layout& l, const int64_t* dims, const int64_t* ds, const int64_t* ss, size_t rank) {
  for (size_t k = 0; k < rank; ++k) {
    if (dims[k] == 0) l.empty = true;
    if (dims[k] <= 1) continue;
    if (l.rank > 0) {  // the previous (outer) dim steps over exactly this dim on both sides: one dim
      const size_t o = l.rank - 1;
      if (l.ds[o] == ds[k] * dims[k] && l.ss[o] == ss[k] * dims[k]) {
        l.dims[o] *= dims[k];
        l.ds[o] = ds[k];
        l.ss[o] = ss[k];
        continue;
      }
    }
    if (l.rank == kMaxCopyRank) return false;
    l.dims[l.rank] = dims[k];
    l.ds[l.rank] = ds[k];
    l.ss[l.rank] = ss[k];
    ++l.rank;
  }
  return true;
}

enum class Mode {
  kRows,       // innermost dim contiguous on both sides: memcpy
  kFill,       // innermost dim contiguous in dst, stride 0 in src: repeat one element
  kTranspose,  // innermost contiguous in dst, another dim `tile_dim` contiguous in src: square tiles
  kStrided,    // anything else: an element loop
};

/// The dims iterated outside the innermost (and, for kTranspose, outside tile_dim): an odometer.
struct Outer {
  size_t n = 0;
  int64_t dims[kMaxCopyRank];
  int64_t ds[kMaxCopyRank];
  int64_t ss[kMaxCopyRank];
  int64_t count = 1;
};

template <typename T>
void transpose_block(T* dst, int64_t dst_a, const T* src, int64_t src_b, int64_t a0, int64_t a1, int64_t b_len) {
  // dst[a * dst_a + b] = src[a + b * src_b]. Tiles of 32 x 32 keep the 32 source lines being read column-wise
  // (and the destination lines) in L1 while each is used 32 times.
  constexpr int64_t kTile = 32;
  for (int64_t ab = a0; ab < a1; ab += kTile) {
    const int64_t ae = std::min(a1, ab + kTile);
    for (int64_t bb = 0; bb < b_len; bb += kTile) {
      const int64_t be = std::min(b_len, bb + kTile);
      for (int64_t a = ab; a < ae; ++a) {
        T* d = dst + a * dst_a;
        const T* s = src + a;
        for (int64_t b = bb; b < be; ++b) d[b] = s[b * src_b];
      }
    }
  }
}

template <typename T>
void strided_run(T* dst, int64_t ds, const T* src, int64_t ss, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i * ds] = src[i * ss];
}

template <typename T> void fill_run(T* dst, const T* value, int64_t n) { std::fill(dst, dst + n, *value); }

struct Job {
  Mode mode;
  Transpose4Fn transpose4 = nullptr;  // the ISA tile kernel for 4-byte transposes, when the CPU has one
  Layout l;
  Outer outer;
  size_t tile_dim = 0;  // kTranspose: the dim contiguous in src
  size_t elem = 4;
};

/// Runs outer indices [o0, o1) and, of the split dim (innermost, or tile_dim for kTranspose), [i0, i1).
template <typename T>
void run_part(const Job& j, T* dst, const T* src, int64_t o0, int64_t o1, int64_t i0, int64_t i1) {
  const Layout& l = j.l;
  const size_t in = l.rank - 1;
  int64_t idx[kMaxCopyRank];
  int64_t rem = o0, d_off = 0, s_off = 0;
  for (size_t k = j.outer.n; k-- > 0;) {  // the odometer at o0
    idx[k] = rem % j.outer.dims[k];
    rem /= j.outer.dims[k];
    d_off += idx[k] * j.outer.ds[k];
    s_off += idx[k] * j.outer.ss[k];
  }
  for (int64_t o = o0; o < o1; ++o) {
    T* d = dst + d_off;
    const T* s = src + s_off;
    switch (j.mode) {
      case Mode::kRows: std::memcpy(d + i0, s + i0, static_cast<size_t>(i1 - i0) * sizeof(T)); break;
      case Mode::kFill: fill_run(d + i0, s, i1 - i0); break;
      case Mode::kStrided: strided_run(d + i0 * l.ds[in], l.ds[in], s + i0 * l.ss[in], l.ss[in], i1 - i0); break;
      case Mode::kTranspose:
        if constexpr (sizeof(T) == 4) {
          if (j.transpose4) {
            j.transpose4(d, l.ds[j.tile_dim], s, l.ss[in], i0, i1, l.dims[in]);
            break;
          }
        }
        transpose_block(d, l.ds[j.tile_dim], s, l.ss[in], i0, i1, l.dims[in]);
        break;
    }
    for (size_t k = j.outer.n; k-- > 0;) {
      d_off += j.outer.ds[k];
      s_off += j.outer.ss[k];
      if (++idx[k] < j.outer.dims[k]) break;
      d_off -= j.outer.ds[k] * j.outer.dims[k];
      s_off -= j.outer.ss[k] * j.outer.dims[k];
      idx[k] = 0;
    }
  }
}

template <typename T> void run_job(const Job& j, void* dst, const void* src, ThreadPool* pool) {
  T* d = static_cast<T*>(dst);
  const T* s = static_cast<const T*>(src);
  const int64_t split = j.mode == Mode::kTranspose ? j.l.dims[j.tile_dim] : j.l.dims[j.l.rank - 1];
  const int64_t total_bytes = j.outer.count * split * (j.mode == Mode::kTranspose ? j.l.dims[j.l.rank - 1] : 1) *
                              static_cast<int64_t>(sizeof(T));
  // Threads pay off once a copy leaves the caches' reach of one core; below, waking the pool costs more.
  constexpr int64_t kMinParallelBytes = 256 * 1024, kMinItemBytes = 64 * 1024;
  const int64_t threads = pool ? static_cast<int64_t>(pool->threads()) : 1;
  if (threads <= 1 || total_bytes < kMinParallelBytes) {
    run_part(j, d, s, 0, j.outer.count, 0, split);
    return;
  }
  const int64_t items = std::min<int64_t>(4 * threads, total_bytes / kMinItemBytes);
  if (j.outer.count >= items) {
    const int64_t per = (j.outer.count + items - 1) / items;
    parallel_for(pool, static_cast<size_t>((j.outer.count + per - 1) / per), [&](size_t i) {
      const int64_t b = static_cast<int64_t>(i) * per;
      run_part(j, d, s, b, std::min(j.outer.count, b + per), 0, split);
    });
    return;
  }
  // Few outer indices: also cut the split dim.
  const int64_t pieces = std::min(split, (items + j.outer.count - 1) / j.outer.count);
  const int64_t per = (split + pieces - 1) / pieces;
  const int64_t real = (split + per - 1) / per;
  parallel_for(pool, static_cast<size_t>(j.outer.count * real), [&](size_t i) {
    const int64_t o = static_cast<int64_t>(i) / real, p = static_cast<int64_t>(i) % real;
    run_part(j, d, s, o, o + 1, p * per, std::min(split, (p + 1) * per));
  });
}

constexpr struct {
  Transpose4Fn fn;
  IsaTier tier;
} kTranspose4[] = {
#define KILN_TRANSPOSE_KERNELS(suffix, tier) {transpose_4byte_##suffix, IsaTier::tier},
#include "kernels/copy/transpose_list.h"
#undef KILN_TRANSPOSE_KERNELS
};

}  // namespace

Transpose4Fn transpose_4byte_kernel(IsaTier tier) {
  Transpose4Fn best = nullptr;
  int best_tier = -1;
  for (const auto& k : kTranspose4)
    if (static_cast<int>(k.tier) <= static_cast<int>(tier) && isa_available(k.tier) && static_cast<int>(k.tier) > best_tier)
      best = k.fn, best_tier = static_cast<int>(k.tier);
  return best;
}

void contiguous_strides(const int64_t* dims, size_t rank, int64_t* strides) {
  int64_t s = 1;
  for (size_t k = rank; k-- > 0;) {
    strides[k] = s;
    s *= dims[k];
  }
}

bool strided_copy(CopySide dst, ConstCopySide src, const int64_t* dims, size_t rank, size_t elem_size,
                  ThreadPool* pool) {
  Job j;
  j.elem = elem_size;
  if (!simplify(j.l, dims, dst.strides, src.strides, rank)) return false;
  if (j.l.empty) return true;
  if (j.l.rank == 0) {  // one element
    std::memcpy(dst.data, src.data, elem_size);
    return true;
  }
  const size_t in = j.l.rank - 1;
  j.mode = Mode::kStrided;
  if (j.l.ds[in] == 1 && j.l.ss[in] == 1) j.mode = Mode::kRows;
  else if (j.l.ds[in] == 1 && j.l.ss[in] == 0) j.mode = Mode::kFill;
  if (j.mode == Mode::kStrided && j.l.ds[in] == 1) {
    for (size_t k = 0; k < in; ++k)
      if (j.l.ss[k] == 1) j.mode = Mode::kTranspose, j.tile_dim = k;
  }
  if (j.mode == Mode::kTranspose && elem_size == 4) j.transpose4 = transpose_4byte_kernel(active_isa());
  for (size_t k = 0; k < in; ++k) {
    if (j.mode == Mode::kTranspose && k == j.tile_dim) continue;
    j.outer.dims[j.outer.n] = j.l.dims[k];
    j.outer.ds[j.outer.n] = j.l.ds[k];
    j.outer.ss[j.outer.n] = j.l.ss[k];
    j.outer.count *= j.l.dims[k];
    ++j.outer.n;
  }
  switch (elem_size) {
    case 1: run_job<uint8_t>(j, dst.data, src.data, pool); break;
    case 2: run_job<uint16_t>(j, dst.data, src.data, pool); break;
    case 4: run_job<uint32_t>(j, dst.data, src.data, pool); break;
    case 8: run_job<uint64_t>(j, dst.data, src.data, pool); break;
    default: return false;
  }
  return true;
}

bool strided_fill(CopySide dst, const void* value, const int64_t* dims, size_t rank, size_t elem_size,
                  ThreadPool* pool) {
  const int64_t zeros[kMaxCopyRank * 2] = {};
  if (rank > kMaxCopyRank * 2) return false;
  return strided_copy(dst, ConstCopySide{value, zeros}, dims, rank, elem_size, pool);
}

}  // namespace kiln::kernels
