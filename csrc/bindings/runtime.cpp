// opzoo._cpu: run-time settings and build facts.
#include <pybind11/stl.h>

#include <string>
#include <vector>

#include "opzoo/runtime.h"
#include "registry.h"

namespace py = pybind11;

namespace opzoo::bindings {
namespace {

std::vector<std::string> runnable_simd_levels() {
  std::vector<std::string> names;
  for (SimdLevel level : kSimdLevels)
    if (simd_level_runs(level)) names.push_back(simd_level_name(level));
  return names;
}

}  // namespace
}  // namespace opzoo::bindings

OPZOO_BINDINGS(runtime) {
  using namespace opzoo;
  m.def("simd_level", [] { return std::string(simd_level_name(simd_level())); },
        "The SIMD level kernels dispatch to now.");
  m.def("detected_simd_level", [] { return std::string(simd_level_name(detected_simd_level())); },
        "The best SIMD level this CPU supports.");
  m.def("simd_levels", &bindings::runnable_simd_levels,
        "Every SIMD level this build and CPU run kernels at, lowest first (each family has a variant for each).");
  m.def(
      "set_simd_level",
      [](const std::string& name) {
        SimdLevel level;
        if (!simd_level_from_name(name.c_str(), level)) {
          std::string names;
          for (SimdLevel l : kSimdLevels) names += std::string(names.empty() ? "'" : ", '") + simd_level_name(l) + "'";
          throw py::value_error("SIMD level must be one of " + names + ", got '" + name + "'");
        }
        if (!set_simd_level(level))
          throw py::value_error("SIMD level '" + name + "' is not supported here; the best is '" +
                                simd_level_name(detected_simd_level()) + "'");
      },
      py::arg("level"), "Lower (or restore) the SIMD level kernels dispatch to.");
  m.def("num_threads", &num_threads);
  m.def("set_num_threads", [](int n) {
    if (n < 1) throw py::value_error("number of threads must be >= 1, got " + std::to_string(n));
    set_num_threads(n);
  });
  m.def("compiler", [] { return std::string(compiler_version()); });
  m.def("openmp", &openmp_enabled);
}
