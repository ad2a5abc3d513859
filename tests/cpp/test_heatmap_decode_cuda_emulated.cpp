// The heatmap decoding CUDA kernels (cuda/heatmap_decode.cu, compiled into this test
// over the CUDA emulation layer) against the portable CPU kernel, in float32, on the
// shared cases (heatmap_decode_test.h): the select's index digits (plateaus of equal
// scores), both sorts (K up to every score, 2250) and NaN. The
// boxes must agree bit for bit. Exits non-zero on a disagreement or a failed launch.
#include "../../cuda/heatmap_decode.cu"

#include <cstdio>
#include <vector>

#include "heatmap_decode_test.h"
#include "heatmap_decode_variants.h"
#include "opzoo/runtime.h"

// Under ThreadSanitizer every CUDA thread is a fiber of its own and a launch costs about
// 400 times as much, so the test runs a subset there that still takes every kernel and
// both sorts through their barriers: two images with a shared-memory sort (NCHW), and a
// sort through global memory (NHWC).
#if defined(__SANITIZE_THREAD__)
constexpr bool kRaceChecked = true;
#elif defined(__has_feature)
constexpr bool kRaceChecked = __has_feature(thread_sanitizer);
#else
constexpr bool kRaceChecked = false;
#endif

int main() {
  opzoo::set_num_threads(1);  // the reference on one thread: ThreadSanitizer does not see libgomp's synchronisation
  int failures = 0, cases = 0;
  opzoo::test::for_each_decode_case(opzoo::test::kDecodeShapes, [&](const opzoo::HeatmapDecodeShape& s, const std::vector<float>& heat,
                                        const std::vector<float>& wh, const float* reg) {
    const bool nchw = s.layout == opzoo::Layout::NCHW;
    if (kRaceChecked && !(s.K > 2048 && !nchw) && !(s.N == 2 && s.C == 3 && s.K == 7 && nchw)) return;
    ++cases;
    std::vector<float> want(size_t(s.N * s.K * 6)), got(want.size());
    opzoo::cpu::heatmap_decode_scalar.decode(s, heat.data(), wh.data(), reg, want.data());
    try {
      opzoo::cuda::heatmap_decode(s, opzoo::DType::float32, heat.data(), wh.data(), reg, got.data(), nullptr);
    } catch (const std::exception& e) {
      std::printf("FAIL launch: %s\n", e.what());
      ++failures;
      return;
    }
    if (!opzoo::test::same_boxes(got, want)) {
      std::printf("FAIL N=%lld C=%lld H=%lld W=%lld K=%lld %s reg %d\n", (long long)s.N, (long long)s.C,
                  (long long)s.H, (long long)s.W, (long long)s.K, opzoo::test::layout_name(s.layout), reg != nullptr);
      ++failures;
    }
  });
  std::printf("%d heatmap-decode CUDA cases under emulation against the portable kernel: %s\n", cases,
              failures ? "FAILED" : "all agree");
  return failures ? 1 : 0;
}
