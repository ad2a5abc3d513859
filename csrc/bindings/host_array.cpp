#include "host_array.h"

namespace opzoo::bindings {

ArrayArg host_array(const py::array& a, const char* name, bool writable) {
  ArrayArg arg;
  arg.name = name;
  // Equality, not identity: an unpickled array's dtype, or one carrying metadata, is
  // another object equal to float32's; a byte-swapped one is not equal.
  const py::dtype dtype = a.dtype();
  if (dtype.equal(py::dtype::of<float>())) arg.dtype = DType::float32;
  else if (dtype.equal(py::dtype::of<double>())) arg.dtype = DType::float64;
  else
    throw py::type_error(std::string(name) + ": expected dtype float32 or float64, got " +
                         std::string(py::str(dtype)));
  arg.shape.assign(a.shape(), a.shape() + a.ndim());
  if (!(a.flags() & py::array::c_style)) throw py::value_error(std::string(name) + ": expected a C-contiguous array");
  if (writable && !a.writeable()) throw py::value_error(std::string(name) + ": array is read-only");
  arg.data = const_cast<void*>(a.data());
  return arg;
}

std::optional<ArrayArg> host_array(const std::optional<py::array>& a, const char* name, bool writable) {
  if (!a) return std::nullopt;
  return host_array(*a, name, writable);
}

}  // namespace opzoo::bindings
