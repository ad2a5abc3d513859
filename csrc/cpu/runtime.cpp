#include "opzoo/runtime.h"

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <new>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace opzoo {
namespace {

// The value of `values` whose name(value) is `name`, into `value`; false if none is.
template <class E, size_t N>
bool value_named(const E (&values)[N], const char* (*name_of)(E), const char* name, E& value) {
  for (E candidate : values)
    if (std::strcmp(name, name_of(candidate)) == 0) {
      value = candidate;
      return true;
    }
  return false;
}

SimdLevel level_from_env() {
  const char* env = std::getenv("OPZOO_SIMD");
  SimdLevel level;
  if (env && simd_level_from_name(env, level) && simd_level_runs(level)) return level;
  return detected_simd_level();
}

std::atomic<int>& current_level() {
  static std::atomic<int> level{int(level_from_env())};
  return level;
}

CpuVendor vendor_from_env() {
  const char* env = std::getenv("OPZOO_CPU_VENDOR");
  CpuVendor vendor;
  if (env && cpu_vendor_from_name(env, vendor)) return vendor;
  return detected_cpu_vendor();
}

std::atomic<int>& current_vendor() {
  static std::atomic<int> vendor{int(vendor_from_env())};
  return vendor;
}

std::atomic<int>& thread_count() {
#ifdef _OPENMP
  static std::atomic<int> count{omp_get_max_threads()};
#else
  static std::atomic<int> count{1};
#endif
  return count;
}

// Blocks kept per calling thread, and the largest block worth keeping: bigger ones
// come and go with each call rather than pinning memory for the thread's lifetime.
// A kernel takes up to five blocks at once; the layers of a network call kernels with
// scratch of many sizes in turn, and each block freed and allocated anew costs page
// faults on its first touch (a tenth of a millisecond per megabyte).
constexpr int kScratchSlots = 8;
constexpr size_t kScratchKeepBytes = size_t(16) << 20;

struct ScratchSlot {
  void* block = nullptr;
  size_t capacity = 0;
  bool in_use = false;
};

struct ScratchCache {
  ScratchSlot slots[kScratchSlots];
  ~ScratchCache() {
    for (ScratchSlot& s : slots) std::free(s.block);
  }
};

thread_local ScratchCache scratch_cache;

void* aligned_block(size_t bytes) {
  void* p = std::aligned_alloc(64, (bytes + 63) / 64 * 64);
  if (!p) throw std::bad_alloc();
  return p;
}

}  // namespace

// The smallest free block that holds `bytes`; else the largest free one, grown to hold
// them, so the blocks settle at the sizes the calls need.
void* scratch_acquire(size_t bytes) {
  if (bytes == 0) bytes = 64;
  if (bytes > kScratchKeepBytes) return aligned_block(bytes);
  ScratchSlot* fit = nullptr;
  ScratchSlot* largest = nullptr;
  for (ScratchSlot& s : scratch_cache.slots) {
    if (s.in_use) continue;
    if (s.capacity >= bytes && (!fit || s.capacity < fit->capacity)) fit = &s;
    if (!largest || s.capacity > largest->capacity) largest = &s;
  }
  if (!fit) {
    if (!largest) return aligned_block(bytes);
    std::free(largest->block);
    largest->block = nullptr;
    largest->capacity = 0;
    largest->block = aligned_block(bytes);
    largest->capacity = bytes;
    fit = largest;
  }
  fit->in_use = true;
  return fit->block;
}

void scratch_release(void* block) {
  for (ScratchSlot& s : scratch_cache.slots)
    if (s.in_use && s.block == block) {
      s.in_use = false;
      return;
    }
  std::free(block);
}

const char* simd_level_name(SimdLevel level) {
  switch (level) {
    case SimdLevel::avx512:
      return "avx512";
    case SimdLevel::avx2:
      return "avx2";
    case SimdLevel::neon:
      return "neon";
    case SimdLevel::scalar:
      break;
  }
  return "scalar";
}

bool simd_level_from_name(const char* name, SimdLevel& level) {
  return value_named(kSimdLevels, simd_level_name, name, level);
}

SimdLevel detected_simd_level() {
#ifdef OPZOO_X86_VARIANTS
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
      __builtin_cpu_supports("fma"))
    return SimdLevel::avx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return SimdLevel::avx2;
#endif
#ifdef OPZOO_ARM_VARIANTS
  return SimdLevel::neon;
#endif
  return SimdLevel::scalar;
}

SimdLevel simd_level() { return SimdLevel(current_level().load(std::memory_order_relaxed)); }

bool simd_level_runs(SimdLevel level) {
  const SimdLevel detected = detected_simd_level();
  if (level == SimdLevel::scalar) return true;
  if (level == SimdLevel::neon || detected == SimdLevel::neon) return level == detected;
  return int(level) <= int(detected);
}

bool set_simd_level(SimdLevel level) {
  if (!simd_level_runs(level)) return false;
  current_level().store(int(level), std::memory_order_relaxed);
  return true;
}

const char* cpu_vendor_name(CpuVendor vendor) {
  switch (vendor) {
    case CpuVendor::intel:
      return "intel";
    case CpuVendor::amd:
      return "amd";
    case CpuVendor::other:
      break;
  }
  return "other";
}

bool cpu_vendor_from_name(const char* name, CpuVendor& vendor) {
  return value_named(kCpuVendors, cpu_vendor_name, name, vendor);
}

CpuVendor detected_cpu_vendor() {
#ifdef OPZOO_X86_VARIANTS
  __builtin_cpu_init();
  if (__builtin_cpu_is("intel")) return CpuVendor::intel;
  if (__builtin_cpu_is("amd")) return CpuVendor::amd;
#endif
  return CpuVendor::other;
}

CpuVendor cpu_vendor() { return CpuVendor(current_vendor().load(std::memory_order_relaxed)); }

void set_cpu_vendor(CpuVendor vendor) { current_vendor().store(int(vendor), std::memory_order_relaxed); }

int num_threads() { return thread_count().load(std::memory_order_relaxed); }

void set_num_threads(int n) { thread_count().store(n < 1 ? 1 : n, std::memory_order_relaxed); }

const char* compiler_version() {
#if defined(__clang__)
  return "clang " __clang_version__;
#elif defined(__GNUC__)
  return "gcc " __VERSION__;
#else
  return "unknown";
#endif
}

bool openmp_enabled() {
#ifdef _OPENMP
  return true;
#else
  return false;
#endif
}

}  // namespace opzoo
