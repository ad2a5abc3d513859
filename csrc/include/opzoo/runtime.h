// Run-time facts shared by every op family: the SIMD level kernels dispatch to,
// and the thread count OpenMP regions use.
#pragma once

#include <cstddef>
#include <cstdint>

namespace opzoo {

enum class SimdLevel : int { scalar = 0, avx2 = 1, avx512 = 2, neon = 3 };

// Every level there is, in enum order.
constexpr SimdLevel kSimdLevels[] = {SimdLevel::scalar, SimdLevel::avx2, SimdLevel::avx512, SimdLevel::neon};

const char* simd_level_name(SimdLevel level);

// The level called `name` ("scalar", "avx2", "avx512", "neon"); false if none is.
bool simd_level_from_name(const char* name, SimdLevel& level);

// The best level this CPU and OS support (CPUID + XCR0, via the compiler's cpu model).
SimdLevel detected_simd_level();

// Whether this build and CPU run kernels at `level`: the portable ones anywhere, NEON on
// AArch64 only, and the x86 levels up to the detected one.
bool simd_level_runs(SimdLevel level);

// The level kernels use now: the detected one unless lowered by set_simd_level or
// the OPZOO_SIMD environment variable read at first use.
SimdLevel simd_level();

// Lowers (or restores) the level kernels dispatch to; returns false, changing nothing,
// if this build or CPU cannot run `level`.
bool set_simd_level(SimdLevel level);

// The CPU's vendor. Kernels whose best way through memory differs between vendors'
// cache hierarchies ask for it (depthwise NHWC: read the input in place or copy it).
enum class CpuVendor : int { other = 0, intel = 1, amd = 2 };

constexpr CpuVendor kCpuVendors[] = {CpuVendor::other, CpuVendor::intel, CpuVendor::amd};

const char* cpu_vendor_name(CpuVendor vendor);

// The vendor called `name` ("other", "intel", "amd"); false if none is.
bool cpu_vendor_from_name(const char* name, CpuVendor& vendor);

// The vendor CPUID names ("other" off x86).
CpuVendor detected_cpu_vendor();

// The vendor kernels tune for now: the detected one unless replaced by set_cpu_vendor
// or the OPZOO_CPU_VENDOR environment variable read at first use, so that tests and
// benchmarks run every vendor's choices on any CPU. Results do not depend on it.
CpuVendor cpu_vendor();
void set_cpu_vendor(CpuVendor vendor);

// Threads every parallel region asks for; a process-wide setting, not per calling thread.
int num_threads();
void set_num_threads(int n);

// Scratch memory for kernels, 64-byte aligned, cached per calling thread so that
// repeated calls do not pay for fresh pages. Blocks are released in reverse order
// of acquisition (kernels hold them in scope). Throws std::bad_alloc.
void* scratch_acquire(size_t bytes);
void scratch_release(void* block);

// Compiler and OpenMP facts for opzoo.info().
const char* compiler_version();
bool openmp_enabled();

}  // namespace opzoo
