#include "arrays.h"

#include <sstream>

namespace opzoo::bindings {

int64_t ArrayArg::size() const {
  int64_t n = 1;
  for (int64_t e : shape) n *= e;
  return n;
}

std::string shape_str(const std::vector<int64_t>& shape) {
  std::ostringstream os;
  os << "(";
  for (size_t i = 0; i < shape.size(); ++i) os << (i ? ", " : "") << shape[i];
  os << (shape.size() == 1 ? ",)" : ")");
  return os.str();
}

void check_shape(const ArrayArg& a, const std::vector<int64_t>& expected) {
  if (a.shape != expected)
    throw py::value_error(std::string(a.name) + ": expected shape " + shape_str(expected) + ", got " +
                          shape_str(a.shape));
}

void check_ndim(const std::vector<int64_t>& shape, const char* name, int ndim, const char* axes) {
  if (int(shape.size()) != ndim)
    throw py::value_error(std::string(name) + ": expected " + std::to_string(ndim) + " dimensions " + axes +
                          ", got shape " + shape_str(shape));
}

void check_same_kind(const ArrayArg& a, const ArrayArg& first) {
  if (a.dtype != first.dtype)
    throw py::type_error(std::string(a.name) + ": expected dtype " + dtype_name(first.dtype) + " (the dtype of " +
                         first.name + "), got " + dtype_name(a.dtype));
  if (a.device != first.device)
    throw py::value_error(std::string(a.name) + ": on device " + std::to_string(a.device) + ", " + first.name +
                          " on device " + std::to_string(first.device));
}

namespace {

bool overlaps(const ArrayArg& out, const ArrayArg& in) {
  if (in.size() == 0 || out.size() == 0 || in.device != out.device) return false;
  const auto o0 = reinterpret_cast<uintptr_t>(out.data), o1 = o0 + uintptr_t(out.bytes());
  const auto i0 = reinterpret_cast<uintptr_t>(in.data), i1 = i0 + uintptr_t(in.bytes());
  return o0 < i1 && i0 < o1;
}

}  // namespace

void check_in_place_or_disjoint(const ArrayArg& out, std::initializer_list<const ArrayArg*> inputs) {
  for (const ArrayArg* in : inputs) {
    if (!in || !overlaps(out, *in)) continue;
    if (in->data != out.data || in->shape != out.shape || in->dtype != out.dtype)
      throw py::value_error(std::string(out.name) + ": must be " + in->name + " itself or share no memory with it");
  }
}

void check_no_overlap(const ArrayArg& out, std::initializer_list<const ArrayArg*> inputs) {
  const auto o0 = reinterpret_cast<uintptr_t>(out.data), o1 = o0 + uintptr_t(out.bytes());
  for (const ArrayArg* in : inputs) {
    if (!in || in->size() == 0 || out.size() == 0 || in->device != out.device) continue;
    const auto i0 = reinterpret_cast<uintptr_t>(in->data), i1 = i0 + uintptr_t(in->bytes());
    if (o0 < i1 && i0 < o1)
      throw py::value_error(std::string(out.name) + ": must not share memory with " + in->name);
  }
}

}  // namespace opzoo::bindings
