// opzoo._cpu: run-time settings and build facts.
#include <pybind11/pybind11.h>

#include <initializer_list>
#include <string>

#include "opzoo/runtime.h"

namespace py = pybind11;

namespace opzoo::bindings {

void register_runtime(py::module_& m) {
  m.def("simd_level", [] { return std::string(simd_level_name(simd_level())); },
        "The SIMD level kernels dispatch to now.");
  m.def("detected_simd_level", [] { return std::string(simd_level_name(detected_simd_level())); },
        "The best SIMD level this CPU supports.");
  m.def(
      "set_simd_level",
      [](const std::string& name) {
        for (SimdLevel level : {SimdLevel::scalar, SimdLevel::avx2, SimdLevel::avx512, SimdLevel::neon})
          if (name == simd_level_name(level)) {
            if (!set_simd_level(level))
              throw py::value_error("SIMD level '" + name + "' is not supported here; the best is '" +
                                    simd_level_name(detected_simd_level()) + "'");
            return;
          }
        throw py::value_error("SIMD level must be one of 'scalar', 'avx2', 'avx512', 'neon', got '" + name + "'");
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

}  // namespace opzoo::bindings
