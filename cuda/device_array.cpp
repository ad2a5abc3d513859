#include "device_array.h"

#include <pybind11/stl.h>

#include <stdexcept>
#include <vector>

#include "dlpack.h"
#include "registry.h"

namespace opzoo::bindings {
namespace {

DType parse_dtype(const std::string& dtype, const char* name) {
  if (dtype == "float32") return DType::float32;
  if (dtype == "float16") return DType::float16;
  if (dtype == "bfloat16") return DType::bfloat16;
  throw py::type_error(std::string(name) + ": expected dtype float32, float16 or bfloat16, got " + dtype);
}

// A DLPack capsule's tensor as a descriptor, plus its DLPack device type; the capsule
// is read, not consumed, so the producer keeps owning the memory.
py::tuple dlpack_describe(const py::capsule& capsule) {
  if (std::string(capsule.name() ? capsule.name() : "") != "dltensor")
    throw py::type_error("expected an unconsumed DLPack capsule named 'dltensor'");
  const auto* managed = static_cast<const DLManagedTensor*>(capsule.get_pointer());
  const DLTensor& t = managed->dl_tensor;
  std::string dtype = "unsupported (DLPack code " + std::to_string(t.dtype.code) + ", " +
                      std::to_string(t.dtype.bits) + " bits)";
  if (t.dtype.lanes == 1 && t.dtype.code == kDLFloat && t.dtype.bits == 32) dtype = "float32";
  if (t.dtype.lanes == 1 && t.dtype.code == kDLFloat && t.dtype.bits == 16) dtype = "float16";
  if (t.dtype.lanes == 1 && t.dtype.code == kDLBfloat && t.dtype.bits == 16) dtype = "bfloat16";
  if (t.dtype.lanes == 1 && t.dtype.code == kDLInt && t.dtype.bits == 64) dtype = "int64";
  std::vector<int64_t> shape(t.shape, t.shape + t.ndim);
  py::object strides = py::none();
  if (t.strides) strides = py::cast(std::vector<int64_t>(t.strides, t.strides + t.ndim));
  const uintptr_t data = reinterpret_cast<uintptr_t>(t.data) + uintptr_t(t.byte_offset);
  return py::make_tuple(py::make_tuple(data, shape, strides, dtype, t.device.device_id), int(t.device.device_type));
}

}  // namespace

void check_cuda(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw std::runtime_error(std::string("opzoo CUDA: ") + what + ": " + cudaGetErrorString(e));
}

namespace {

ArrayArg described_array(const py::handle& desc, const char* name, bool index) {
  if (!py::isinstance<py::tuple>(desc) || py::len(desc) != 5)
    throw py::value_error(std::string(name) + ": expected a (ptr, shape, strides, dtype, device) descriptor");
  const auto t = desc.cast<py::tuple>();
  ArrayArg a;
  a.name = name;
  const std::string dtype = t[3].cast<std::string>();
  if (index && dtype != "int64") throw py::type_error(std::string(name) + ": expected dtype int64, got " + dtype);
  a.dtype = index ? DType::int64 : parse_dtype(dtype, name);
  a.data = reinterpret_cast<void*>(t[0].cast<uintptr_t>());
  a.shape = t[1].cast<std::vector<int64_t>>();
  a.device = t[4].cast<int>();
  for (int64_t e : a.shape)
    if (e < 0) throw py::value_error(std::string(name) + ": negative extent in shape " + shape_str(a.shape));
  if (!t[2].is_none()) {  // C-contiguous; dimensions of extent 1 may have any stride
    const auto strides = t[2].cast<std::vector<int64_t>>();
    if (strides.size() != a.shape.size()) throw py::value_error(std::string(name) + ": strides do not match the shape");
    int64_t expected = 1;
    for (size_t i = a.shape.size(); i-- > 0;) {
      if (a.shape[i] != 1 && strides[i] != expected)
        throw py::value_error(std::string(name) + ": expected a C-contiguous array, got strides " + shape_str(strides) +
                              " (elements) for shape " + shape_str(a.shape));
      expected *= a.shape[i];
    }
  }
  if (a.size() > 0 && !a.data) throw py::value_error(std::string(name) + ": null data pointer");
  return a;
}

}  // namespace

ArrayArg device_array(const py::handle& desc, const char* name) { return described_array(desc, name, false); }

ArrayArg device_index_array(const py::handle& desc, const char* name) { return described_array(desc, name, true); }

std::optional<ArrayArg> optional_device_index_array(const py::handle& desc, const char* name) {
  if (desc.is_none()) return std::nullopt;
  return device_index_array(desc, name);
}

std::optional<ArrayArg> optional_device_array(const py::handle& desc, const char* name) {
  if (desc.is_none()) return std::nullopt;
  return device_array(desc, name);
}

}  // namespace opzoo::bindings

OPZOO_BINDINGS(device_arrays) {
  namespace py = pybind11;
  m.def("dlpack_describe", &opzoo::bindings::dlpack_describe, py::arg("capsule"),
        "(descriptor, DLPack device type) of a DLPack capsule's tensor, without consuming it.");
}
