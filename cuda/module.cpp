// opzoo._cuda: the CUDA kernels for Python. Arrays arrive as descriptors built by
// python/opzoo/_device.py from __cuda_array_interface__ or DLPack: (data pointer,
// shape, strides in elements or None, dtype name, device ordinal). Every descriptor is
// checked against the others here, whatever Python passes, then the kernel is launched
// on the caller's stream with the GIL released. CUDA errors become RuntimeError.
// Linked with the static CUDA runtime: importing needs no driver; info() reports it.
#include <cuda_runtime.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "checks.h"
#include "depthwise_cuda.h"
#include "depthwise_shape.h"
#include "dlpack.h"

namespace opzoo::bindings {
namespace {

using cuda::DType;

void check_cuda(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw std::runtime_error(std::string("opzoo CUDA: ") + what + ": " + cudaGetErrorString(e));
}

struct DeviceArray {
  uintptr_t ptr = 0;
  std::vector<int64_t> shape;
  DType dtype = DType::float32;
  int device = 0;

  int64_t size() const {
    int64_t n = 1;
    for (int64_t e : shape) n *= e;
    return n;
  }
  int64_t bytes() const { return size() * (dtype == DType::float32 ? 4 : 2); }
};

DType parse_dtype(const std::string& name, const char* what) {
  if (name == "float32") return DType::float32;
  if (name == "float16") return DType::float16;
  if (name == "bfloat16") return DType::bfloat16;
  throw py::type_error(std::string(what) + ": expected dtype float32, float16 or bfloat16, got " + name);
}

// (ptr, shape, strides or None, dtype, device) -> DeviceArray; the strides must be
// C-contiguous (dimensions of extent 1 may have any stride).
DeviceArray parse_array(const py::handle& h, const char* name, int ndim) {
  const auto t = h.cast<py::tuple>();
  if (t.size() != 5) throw py::value_error(std::string(name) + ": expected a (ptr, shape, strides, dtype, device) descriptor");
  DeviceArray a;
  a.ptr = t[0].cast<uintptr_t>();
  a.shape = t[1].cast<std::vector<int64_t>>();
  a.dtype = parse_dtype(t[3].cast<std::string>(), name);
  a.device = t[4].cast<int>();
  if (int(a.shape.size()) != ndim)
    throw py::value_error(std::string(name) + ": expected " + std::to_string(ndim) + " dimensions, got shape " +
                          shape_str(a.shape));
  for (int64_t e : a.shape)
    if (e < 0) throw py::value_error(std::string(name) + ": negative extent in shape " + shape_str(a.shape));
  if (!t[2].is_none()) {
    const auto strides = t[2].cast<std::vector<int64_t>>();
    if (strides.size() != a.shape.size()) throw py::value_error(std::string(name) + ": strides do not match the shape");
    int64_t expected = 1;
    for (int i = ndim - 1; i >= 0; --i) {
      if (a.shape[i] != 1 && strides[i] != expected)
        throw py::value_error(std::string(name) + ": expected a C-contiguous array, got strides " + shape_str(strides) +
                              " (elements) for shape " + shape_str(a.shape));
      expected *= a.shape[i];
    }
  }
  if (a.size() > 0 && a.ptr == 0) throw py::value_error(std::string(name) + ": null data pointer");
  return a;
}

void check_same(const DeviceArray& a, const char* name, const DeviceArray& first, const char* first_name) {
  if (a.dtype != first.dtype)
    throw py::type_error(std::string(name) + ": expected the dtype of " + first_name);
  if (a.device != first.device)
    throw py::value_error(std::string(name) + ": on device " + std::to_string(a.device) + ", " + first_name +
                          " on device " + std::to_string(first.device));
}

void check_shape(const DeviceArray& a, const char* name, const std::vector<int64_t>& expected) {
  if (a.shape != expected)
    throw py::value_error(std::string(name) + ": expected shape " + shape_str(expected) + ", got " + shape_str(a.shape));
}

// Outputs must not share memory with inputs: kernels read inputs after writing outputs.
void check_no_overlap(const DeviceArray& out, const char* name, std::initializer_list<const DeviceArray*> inputs) {
  for (const DeviceArray* in : inputs) {
    if (!in || in->size() == 0 || out.size() == 0) continue;
    if (out.ptr < in->ptr + uintptr_t(in->bytes()) && in->ptr < out.ptr + uintptr_t(out.bytes()))
      throw py::value_error(std::string(name) + ": must not share memory with an input");
  }
}

// Runs f with the device of the call current, restoring the caller's afterwards.
template <class F>
void on_device(int device, F&& f) {
  int previous = 0;
  check_cuda(cudaGetDevice(&previous), "cudaGetDevice");
  if (previous != device) check_cuda(cudaSetDevice(device), "cudaSetDevice");
  try {
    f();
  } catch (...) {
    if (previous != device) cudaSetDevice(previous);
    throw;
  }
  if (previous != device) check_cuda(cudaSetDevice(previous), "cudaSetDevice");
}

// An optional per-channel vector (bias, grad_bias): None, or C*M elements like `like`.
std::optional<DeviceArray> parse_channels(const py::handle& h, const char* name, const DeviceArray& like,
                                          const char* like_name, const DepthwiseShape& s) {
  if (h.is_none()) return std::nullopt;
  DeviceArray a = parse_array(h, name, 1);
  check_same(a, name, like, like_name);
  check_shape(a, name, {s.C * s.M});
  return a;
}

cudaStream_t as_stream(uintptr_t stream) { return reinterpret_cast<cudaStream_t>(stream); }

void forward(const py::handle& x_desc, const py::handle& w_desc, const py::handle& b_desc, const py::handle& y_desc,
             Pair stride, Quad padding, Pair dilation, const std::string& layout, int activation, uintptr_t stream) {
  const DeviceArray x = parse_array(x_desc, "x", 4), w = parse_array(w_desc, "weight", 4);
  const DeviceArray y = parse_array(y_desc, "out", 4);
  check_same(w, "weight", x, "x");
  check_same(y, "out", x, "x");
  const DepthwiseShape s = make_depthwise_shape(x.shape, w.shape, stride, padding, dilation, layout);
  const std::optional<DeviceArray> b = parse_channels(b_desc, "bias", x, "x", s);
  check_shape(y, "out", depthwise_output_shape(s));
  check_no_overlap(y, "out", {&x, &w, b ? &*b : nullptr});
  if (activation < 0 || activation >= kNumActivations)
    throw py::value_error("activation code out of range: " + std::to_string(activation));
  if (depthwise_empty(s)) return;
  py::gil_scoped_release release;
  on_device(x.device, [&] {
    cuda::depthwise_forward(s, x.dtype, reinterpret_cast<const void*>(x.ptr), reinterpret_cast<const void*>(w.ptr),
                            b ? reinterpret_cast<const void*>(b->ptr) : nullptr, Activation(activation),
                            reinterpret_cast<void*>(y.ptr), as_stream(stream));
  });
}

void backward_input(const py::handle& gy_desc, const py::handle& w_desc, const py::handle& gx_desc, Pair stride,
                    Quad padding, Pair dilation, const std::string& layout, uintptr_t stream) {
  const DeviceArray gy = parse_array(gy_desc, "grad_out", 4), w = parse_array(w_desc, "weight", 4);
  const DeviceArray gx = parse_array(gx_desc, "grad_x", 4);
  check_same(w, "weight", gy, "grad_out");
  check_same(gx, "grad_x", gy, "grad_out");
  const DepthwiseShape s = make_depthwise_shape(gx.shape, w.shape, stride, padding, dilation, layout);
  check_shape(gy, "grad_out", depthwise_output_shape(s));
  check_no_overlap(gx, "grad_x", {&gy, &w});
  py::gil_scoped_release release;
  on_device(gy.device, [&] {
    cuda::depthwise_backward_input(s, gy.dtype, reinterpret_cast<const void*>(gy.ptr),
                                   reinterpret_cast<const void*>(w.ptr), reinterpret_cast<void*>(gx.ptr),
                                   as_stream(stream));
  });
}

void backward_weight(const py::handle& gy_desc, const py::handle& x_desc, const py::handle& gw_desc,
                     const py::handle& gb_desc, Pair stride, Quad padding, Pair dilation, const std::string& layout,
                     uintptr_t stream) {
  const DeviceArray gy = parse_array(gy_desc, "grad_out", 4), x = parse_array(x_desc, "x", 4);
  const DeviceArray gw = parse_array(gw_desc, "grad_weight", 4);
  check_same(gy, "grad_out", x, "x");
  check_same(gw, "grad_weight", x, "x");
  const DepthwiseShape s = make_depthwise_shape(x.shape, gw.shape, stride, padding, dilation, layout);
  check_shape(gy, "grad_out", depthwise_output_shape(s));
  check_no_overlap(gw, "grad_weight", {&gy, &x});
  const std::optional<DeviceArray> gb = parse_channels(gb_desc, "grad_bias", x, "x", s);
  if (gb) check_no_overlap(*gb, "grad_bias", {&gy, &x, &gw});
  py::gil_scoped_release release;
  on_device(x.device, [&] {
    cuda::depthwise_backward_weight(s, x.dtype, reinterpret_cast<const void*>(gy.ptr),
                                    reinterpret_cast<const void*>(x.ptr), reinterpret_cast<void*>(gw.ptr),
                                    gb ? reinterpret_cast<void*>(gb->ptr) : nullptr, as_stream(stream));
  });
}

void activation_backward(const py::handle& z_desc, const py::handle& g_desc, const py::handle& out_desc,
                         int activation, uintptr_t stream) {
  const DeviceArray z = parse_array(z_desc, "z", 1), g = parse_array(g_desc, "grad", 1);
  const DeviceArray out = parse_array(out_desc, "out", 1);
  check_same(g, "grad", z, "z");
  check_same(out, "out", z, "z");
  check_shape(g, "grad", z.shape);
  check_shape(out, "out", z.shape);
  check_no_overlap(out, "out", {&z});
  if (activation < 0 || activation >= kNumActivations)
    throw py::value_error("activation code out of range: " + std::to_string(activation));
  py::gil_scoped_release release;
  on_device(z.device, [&] {
    cuda::activation_backward(z.dtype, z.size(), reinterpret_cast<const void*>(z.ptr),
                              reinterpret_cast<const void*>(g.ptr), Activation(activation),
                              reinterpret_cast<void*>(out.ptr), as_stream(stream));
  });
}

py::dict info() {
  py::dict d;
  d["built"] = true;
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
  std::vector<int64_t> shape(t.shape, t.shape + t.ndim);
  py::object strides = py::none();
  if (t.strides) strides = py::cast(std::vector<int64_t>(t.strides, t.strides + t.ndim));
  const uintptr_t data = reinterpret_cast<uintptr_t>(t.data) + uintptr_t(t.byte_offset);
  return py::make_tuple(py::make_tuple(data, shape, strides, dtype, t.device.device_id), int(t.device.device_type));
}

}  // namespace
}  // namespace opzoo::bindings

PYBIND11_MODULE(_cuda, m) {
  namespace b = opzoo::bindings;
  namespace py = pybind11;
  m.doc() = "opzoo CUDA kernels (internal: use the functions of the opzoo package)";
  m.def("info", &b::info, "Whether a CUDA device is usable, its name, and the build's CUDA facts.");
  m.def("dlpack_describe", &b::dlpack_describe, py::arg("capsule"),
        "(descriptor, DLPack device type) of a DLPack capsule's tensor, without consuming it.");
  m.def("depthwise_forward", &b::forward, py::arg("x"), py::arg("weight"), py::arg("bias"), py::arg("out"),
        py::arg("stride"), py::arg("padding"), py::arg("dilation"), py::arg("layout"), py::arg("activation"),
        py::arg("stream"), "Depthwise conv2d forward into `out`; padding is (top, bottom, left, right).");
  m.def("depthwise_backward_input", &b::backward_input, py::arg("grad_out"), py::arg("weight"), py::arg("grad_x"),
        py::arg("stride"), py::arg("padding"), py::arg("dilation"), py::arg("layout"), py::arg("stream"),
        "Gradient of the depthwise conv2d with respect to its input, into `grad_x`.");
  m.def("depthwise_backward_weight", &b::backward_weight, py::arg("grad_out"), py::arg("x"), py::arg("grad_weight"),
        py::arg("grad_bias"), py::arg("stride"), py::arg("padding"), py::arg("dilation"), py::arg("layout"),
        py::arg("stream"), "Gradients of the depthwise conv2d with respect to weight and bias.");
  m.def("activation_backward", &b::activation_backward, py::arg("z"), py::arg("grad"), py::arg("out"),
        py::arg("activation"), py::arg("stream"), "out = grad * activation'(z), elementwise over flat arrays.");
}
