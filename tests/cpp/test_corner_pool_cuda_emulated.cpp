// The corner/center pooling CUDA kernels (cuda/corner_pool.cu, compiled into this test
// over the CUDA emulation layer) against the portable CPU kernels, in float32: every
// direction, both pairs, center pooling and the backward passes, on the variant test's
// cases (both layouts, ties, a NaN). The pools must agree bit for bit, the gradients
// up to the rounding of sums. Exits non-zero on a disagreement or a failed launch.
#include "../../cuda/corner_pool.cu"

#include <cstdio>
#include <vector>

#include "corner_pool_test.h"
#include "corner_pool_variants.h"

namespace {

using opzoo::CornerPoolShape;
using opzoo::DType;
using opzoo::Layout;
using opzoo::PoolDirection;

// The CUDA launchers as a kernel table, on the default stream.
const opzoo::test::Kernels cuda_kernels = {
    [](const CornerPoolShape& s, const float* a, PoolDirection v, const float* b, PoolDirection h, float* out) {
      opzoo::cuda::corner_pool_forward(s, DType::float32, a, v, b, h, out, nullptr);
    },
    [](const CornerPoolShape& s, const float* a, const float* b, float* out) {
      opzoo::cuda::center_pool_forward(s, DType::float32, a, b, out, nullptr);
    },
    [](const CornerPoolShape& s, const float* g, const float* x, PoolDirection d, float* gx) {
      opzoo::cuda::corner_pool_backward(s, DType::float32, g, x, d, gx, nullptr);
    },
    [](const CornerPoolShape& s, const float* g, const float* x, bool vertical, float* gx) {
      opzoo::cuda::extent_pool_backward(s, DType::float32, g, x, vertical, gx, nullptr);
    },
};

}  // namespace

int main() {
  opzoo::set_num_threads(1);  // the reference on one thread: ThreadSanitizer does not see libgomp's synchronisation
  int failures = 0, cases = 0;
  opzoo::test::for_each_pool_case([&](const CornerPoolShape& s, int ties, const std::vector<float>& a,
                                      const std::vector<float>& b, const std::vector<float>& g) {
    ++cases;
    double err = 0;
    try {
      err = opzoo::test::relative_error(opzoo::test::run_all(cuda_kernels, s, a, b, g),
                                        opzoo::test::run_all(opzoo::cpu::corner_pool_scalar, s, a, b, g));
    } catch (const std::exception& e) {
      std::printf("FAIL launch: %s\n", e.what());
      ++failures;
      return;
    }
    if (!(err <= 1e-6)) {
      std::printf("FAIL N=%lld C=%lld H=%lld W=%lld %s ties %d: relative error %.3g\n", (long long)s.N,
                  (long long)s.C, (long long)s.H, (long long)s.W, s.layout == Layout::NCHW ? "NCHW" : "NHWC", ties,
                  err);
      ++failures;
    }
  });
  std::printf("%d corner-pool CUDA cases under emulation against the portable kernels: %s\n", cases,
              failures ? "FAILED" : "all agree");
  return failures ? 1 : 0;
}
