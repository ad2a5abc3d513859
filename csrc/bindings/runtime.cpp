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

// 'a', 'b', 'c': the names of every value of an enum, for an error message.
template <class E, size_t N>
std::string quoted_names(const E (&values)[N], const char* (*name)(E)) {
  std::string names;
  for (E value : values) names += std::string(names.empty() ? "'" : ", '") + name(value) + "'";
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
          throw py::value_error("SIMD level must be one of " + bindings::quoted_names(kSimdLevels, simd_level_name) +
                                ", got '" + name + "'");
        }
        if (!set_simd_level(level))
          throw py::value_error("SIMD level '" + name + "' is not supported here; the best is '" +
                                simd_level_name(detected_simd_level()) + "'");
      },
      py::arg("level"), "Lower (or restore) the SIMD level kernels dispatch to.");
  m.def("cpu_vendor", [] { return std::string(cpu_vendor_name(cpu_vendor())); },
        "The CPU vendor kernels tune for now.");
  m.def("detected_cpu_vendor", [] { return std::string(cpu_vendor_name(detected_cpu_vendor())); },
        "The CPU's vendor, from CPUID.");
  m.def(
      "set_cpu_vendor",
      [](const std::string& name) {
        CpuVendor vendor;
        if (!cpu_vendor_from_name(name.c_str(), vendor)) {
          throw py::value_error("CPU vendor must be one of " + bindings::quoted_names(kCpuVendors, cpu_vendor_name) +
                                ", got '" + name + "'");
        }
        set_cpu_vendor(vendor);
      },
      py::arg("vendor"), "Tune kernels for this CPU vendor's caches (results do not change).");
  m.def("num_threads", &num_threads);
  m.def("set_num_threads", [](int n) {
    if (n < 1) throw py::value_error("number of threads must be >= 1, got " + std::to_string(n));
    set_num_threads(n);
  });
  m.def("compiler", [] { return std::string(compiler_version()); });
  m.def("openmp", &openmp_enabled);
}
