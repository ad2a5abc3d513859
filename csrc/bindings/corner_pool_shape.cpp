#include "corner_pool_shape.h"

#include "params.h"

namespace opzoo::bindings {

PoolDirection parse_direction(const std::string& direction) {
  static const char* const names[] = {"top", "bottom", "left", "right"};
  for (int i = 0; i < 4; ++i)
    if (direction == names[i]) return PoolDirection(i);
  throw py::value_error("direction must be 'top', 'bottom', 'left' or 'right', got '" + direction + "'");
}

std::pair<PoolDirection, PoolDirection> parse_corner(const std::string& corner) {
  if (corner == "top_left") return {PoolDirection::top, PoolDirection::left};
  if (corner == "bottom_right") return {PoolDirection::bottom, PoolDirection::right};
  throw py::value_error("corner must be 'top_left' or 'bottom_right', got '" + corner + "'");
}

CornerPoolShape make_corner_pool_shape(const std::vector<std::vector<int64_t>>& shapes,
                                       const std::vector<std::string>& names, const std::string& layout) {
  CornerPoolShape s{};
  s.layout = parse_layout(layout);
  const bool nhwc = s.layout == Layout::NHWC;
  if (shapes.empty() || shapes.size() != names.size()) throw py::value_error("expected one name per shape");
  check_ndim(shapes[0], names[0].c_str(), 4, nhwc ? "(N, H, W, C)" : "(N, C, H, W)");
  const std::vector<int64_t>& x = shapes[0];
  s.N = x[0];
  s.C = nhwc ? x[3] : x[1];
  s.H = nhwc ? x[1] : x[2];
  s.W = nhwc ? x[2] : x[3];
  for (size_t i = 1; i < shapes.size(); ++i)
    if (shapes[i] != x)
      throw py::value_error(names[i] + ": expected shape " + shape_str(x) + " (the shape of " + names[0] + "), got " +
                            shape_str(shapes[i]));
  return s;
}

CornerPoolShape check_corner_pool_arrays(std::initializer_list<const ArrayArg*> inputs,
                                         std::initializer_list<const ArrayArg*> outputs, const std::string& layout) {
  std::vector<std::vector<int64_t>> shapes;
  std::vector<std::string> names;
  const ArrayArg* first = *inputs.begin();
  for (const ArrayArg* a : inputs) {
    check_same_kind(*a, *first);
    shapes.push_back(a->shape);
    names.push_back(a->name);
  }
  const CornerPoolShape s = make_corner_pool_shape(shapes, names, layout);
  std::vector<const ArrayArg*> done;
  for (const ArrayArg* o : outputs) {
    check_same_kind(*o, *first);
    check_shape(*o, first->shape);
    for (const ArrayArg* a : inputs) check_no_overlap(*o, {a});
    for (const ArrayArg* d : done) check_no_overlap(*o, {d});
    done.push_back(o);
  }
  return s;
}

}  // namespace opzoo::bindings
