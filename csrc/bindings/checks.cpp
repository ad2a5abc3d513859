#include "checks.h"

#include <sstream>

namespace opzoo::bindings {

std::string shape_str(const std::vector<int64_t>& shape) {
  std::ostringstream os;
  os << "(";
  for (size_t i = 0; i < shape.size(); ++i) os << (i ? ", " : "") << shape[i];
  os << (shape.size() == 1 ? ",)" : ")");
  return os.str();
}

std::vector<int64_t> shape_of(const py::array& a) {
  return std::vector<int64_t>(a.shape(), a.shape() + a.ndim());
}

py::dtype float_dtype_of(const py::array& a, const char* name) {
  if (a.dtype().is(py::dtype::of<float>())) return py::dtype::of<float>();
  if (a.dtype().is(py::dtype::of<double>())) return py::dtype::of<double>();
  throw py::type_error(std::string(name) + ": expected dtype float32 or float64, got " +
                       std::string(py::str(a.dtype())));
}

void check_array(const py::array& a, const char* name, const py::dtype& dtype, int ndim, bool writable) {
  if (!a.dtype().is(dtype))
    throw py::type_error(std::string(name) + ": expected dtype " + std::string(py::str(dtype)) +
                         ", got " + std::string(py::str(a.dtype())));
  if (a.ndim() != ndim)
    throw py::value_error(std::string(name) + ": expected " + std::to_string(ndim) +
                          " dimensions, got shape " + shape_str(shape_of(a)));
  if (!(a.flags() & py::array::c_style))
    throw py::value_error(std::string(name) + ": expected a C-contiguous array");
  if (writable && !a.writeable()) throw py::value_error(std::string(name) + ": array is read-only");
}

void check_shape(const py::array& a, const char* name, const std::vector<int64_t>& expected) {
  const std::vector<int64_t> got = shape_of(a);
  if (got != expected)
    throw py::value_error(std::string(name) + ": expected shape " + shape_str(expected) + ", got " +
                          shape_str(got));
}

void check_no_overlap(const py::array& out, const char* name,
                      std::initializer_list<const py::array*> inputs) {
  const auto* o0 = static_cast<const char*>(out.data());
  const auto* o1 = o0 + out.nbytes();
  for (const py::array* in : inputs) {
    if (!in || in->nbytes() == 0 || out.nbytes() == 0) continue;
    const auto* i0 = static_cast<const char*>(in->data());
    const auto* i1 = i0 + in->nbytes();
    if (o0 < i1 && i0 < o1)
      throw py::value_error(std::string(name) + ": output must not share memory with an input");
  }
}

}  // namespace opzoo::bindings
