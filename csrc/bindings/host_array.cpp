#include "host_array.h"

namespace opzoo::bindings {

namespace {

ArrayArg dense_array(const py::array& a, const char* name, bool writable, DType dtype) {
  ArrayArg arg;
  arg.name = name;
  arg.dtype = dtype;
  arg.shape.assign(a.shape(), a.shape() + a.ndim());
  if (!(a.flags() & py::array::c_style)) throw py::value_error(std::string(name) + ": expected a C-contiguous array");
  if (writable && !a.writeable()) throw py::value_error(std::string(name) + ": array is read-only");
  arg.data = const_cast<void*>(a.data());
  return arg;
}

}  // namespace

ArrayArg host_array(const py::array& a, const char* name, bool writable) {
  // Equality, not identity: an unpickled array's dtype, or one carrying metadata, is
  // another object equal to float32's; a byte-swapped one is not equal.
  const py::dtype dtype = a.dtype();
  if (dtype.equal(py::dtype::of<float>())) return dense_array(a, name, writable, DType::float32);
  if (dtype.equal(py::dtype::of<double>())) return dense_array(a, name, writable, DType::float64);
  throw py::type_error(std::string(name) + ": expected dtype float32 or float64, got " + std::string(py::str(dtype)));
}

ArrayArg host_index_array(const py::array& a, const char* name, bool writable, bool int32_too) {
  const py::dtype dtype = a.dtype();
  if (dtype.equal(py::dtype::of<int64_t>())) return dense_array(a, name, writable, DType::int64);
  if (int32_too && dtype.equal(py::dtype::of<int32_t>())) return dense_array(a, name, writable, DType::int32);
  throw py::type_error(std::string(name) + ": expected dtype " + (int32_too ? "int32 or int64" : "int64") + ", got " +
                       std::string(py::str(dtype)));
}

std::optional<ArrayArg> host_index_array(const std::optional<py::array>& a, const char* name, bool writable) {
  if (!a) return std::nullopt;
  return host_index_array(*a, name, writable);
}

std::optional<ArrayArg> host_array(const std::optional<py::array>& a, const char* name, bool writable) {
  if (!a) return std::nullopt;
  return host_array(*a, name, writable);
}

}  // namespace opzoo::bindings
