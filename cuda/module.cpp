// opzoo._cuda: the CUDA kernels for Python. Every binding file compiled into it
// registers itself (registry.h); this file adds the module's build and device facts.
// Linked with the static CUDA runtime: importing needs no driver; info() reports it.
// Built with OPZOO_CUDA=emulate, the runtime is cuda/emulation's and the device the host.
#include <cuda_runtime.h>
#include <pybind11/pybind11.h>

#include <string>

#include "registry.h"

namespace py = pybind11;

namespace {

py::dict info() {
  py::dict d;
  d["built"] = true;
#ifdef OPZOO_CUDA_EMULATION
  d["emulated"] = true;  // OPZOO_CUDA=emulate: the kernels run on the host (cuda/emulation)
#else
  d["emulated"] = false;
#endif
  int runtime = 0;
  cudaRuntimeGetVersion(&runtime);
  d["runtime_version"] = runtime;
  d["architectures"] = OPZOO_CUDA_ARCHITECTURES;
  int count = 0;
  const cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no driver" / "no device" error
    count = 0;
  }
  d["available"] = count > 0;
  d["device_count"] = count;
  d["device"] = py::none();
  d["error"] = e == cudaSuccess ? py::object(py::none()) : py::object(py::str(cudaGetErrorString(e)));
  if (count > 0) {
    int device = 0;
    cudaDeviceProp prop{};
    if (cudaGetDevice(&device) == cudaSuccess && cudaGetDeviceProperties(&prop, device) == cudaSuccess)
      d["device"] = std::string(prop.name);
  }
  return d;
}

}  // namespace

PYBIND11_MODULE(_cuda, m) {
  m.doc() = "opzoo CUDA kernels (internal: use the functions of the opzoo package)";
  m.def("info", &info, "Whether a CUDA device is usable, its name, and the build's CUDA facts.");
  opzoo::bindings::register_all(m);
}
