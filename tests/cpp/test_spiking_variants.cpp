// Every SIMD variant of the spiking kernels this build has against the portable ones
// (tests/cpp/spiking_test.h's cases). Exits non-zero on a disagreement.
#include <cstdio>

#include "spiking_test.h"

int main() {
  const auto variants = opzoo::test::simd_variants(opzoo::cpu::spiking_variants());
  if (variants.empty()) {
    std::printf("SKIP: this build or CPU has no SIMD variant besides the portable kernels\n");
    return 0;
  }
  int failures = 0, checked = 0;
  for (const auto& v : variants) {
    failures += opzoo::test::check_spiking(opzoo::simd_level_name(v.level), v.table->forward, v.table->backward, checked);
    std::printf("%s: ", opzoo::simd_level_name(v.level));
  }
  std::printf("%d spiking cases against the portable kernels: %s\n", checked, failures ? "FAILED" : "all agree");
  return failures ? 1 : 0;
}
