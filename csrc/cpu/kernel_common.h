// Threads, scratch memory and index arithmetic every CPU kernel template uses. Internal linkage throughout, so that each
// per-ISA translation unit keeps its own copy compiled with its own flags (a shared
// inline symbol could otherwise be resolved to an AVX-512 build on an older CPU).
#pragma once

#include <cstddef>
#include <cstdint>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "opzoo/runtime.h"

namespace opzoo::cpu {
namespace {

inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
inline int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }
// a >= 0, b > 0
inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
inline int64_t round_up(int64_t a, int64_t m) { return ceil_div(a, m) * m; }

// One 64-byte aligned block of `per_thread` elements for each thread of a parallel
// region, taken before the region so a failure throws where it can be caught.
template <class T>
class ThreadScratch {
 public:
  ThreadScratch(int64_t per_thread, int threads)
      : stride_(round_up(max64(per_thread, 1), 64 / int64_t(sizeof(T)))),
        data_(static_cast<T*>(scratch_acquire(size_t(stride_) * sizeof(T) * size_t(threads)))) {}
  ~ThreadScratch() { scratch_release(data_); }
  ThreadScratch(const ThreadScratch&) = delete;
  ThreadScratch& operator=(const ThreadScratch&) = delete;
  T* get(int thread) const { return data_ + int64_t(thread) * stride_; }

 private:
  int64_t stride_;
  T* data_;
};

// One thread's value on a cache line of its own: threads updating neighbouring values
// would take the line from each other at every write.
template <class T>
struct alignas(64) PerThread {
  T value;
};

inline int threads_for(int64_t tasks) { return int(max64(1, min64(num_threads(), tasks))); }

inline int thread_index() {
#ifdef _OPENMP
  return omp_get_thread_num();
#else
  return 0;
#endif
}

// Runs body(task, thread) for task in [0, tasks) on `threads` threads, statically split.
template <class F>
void parallel_for(int64_t tasks, int threads, const F& body) {
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
  for (int64_t task = 0; task < tasks; ++task) body(task, thread_index());
}

}  // namespace
}  // namespace opzoo::cpu
