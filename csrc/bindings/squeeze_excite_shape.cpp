#include "squeeze_excite_shape.h"

#include "params.h"

namespace opzoo::bindings {

SqueezeExciteShape make_squeeze_excite_shape(const std::vector<int64_t>& x_shape,
                                             const std::vector<int64_t>& w_reduce_shape,
                                             const std::vector<int64_t>* b_reduce_shape,
                                             const std::vector<int64_t>& w_expand_shape,
                                             const std::vector<int64_t>* b_expand_shape, const std::string& layout) {
  SqueezeExciteShape s{};
  s.layout = parse_layout(layout);
  const bool nhwc = s.layout == Layout::NHWC;
  check_ndim(x_shape, "x", 4, nhwc ? "(N, H, W, C)" : "(N, C, H, W)");
  s.N = x_shape[0];
  s.C = nhwc ? x_shape[3] : x_shape[1];
  s.H = nhwc ? x_shape[1] : x_shape[2];
  s.W = nhwc ? x_shape[2] : x_shape[3];
  check_ndim(w_reduce_shape, "w_reduce", 2, "(R, C)");
  s.R = w_reduce_shape[0];
  if (w_reduce_shape[1] != s.C)
    throw py::value_error("w_reduce: expected shape (R, " + std::to_string(s.C) + ") for x's " + std::to_string(s.C) +
                          " channels, got " + shape_str(w_reduce_shape));
  if (w_expand_shape != std::vector<int64_t>{s.C, s.R})
    throw py::value_error("w_expand: expected shape " + shape_str({s.C, s.R}) + " (C, R), got " +
                          shape_str(w_expand_shape));
  if (b_reduce_shape && *b_reduce_shape != std::vector<int64_t>{s.R})
    throw py::value_error("b_reduce: expected shape " + shape_str({s.R}) + ", got " + shape_str(*b_reduce_shape));
  if (b_expand_shape && *b_expand_shape != std::vector<int64_t>{s.C})
    throw py::value_error("b_expand: expected shape " + shape_str({s.C}) + ", got " + shape_str(*b_expand_shape));
  return s;
}

namespace {

SqueezeExciteShape shape_of(const ArrayArg& x, const ArrayArg& w_reduce, const ArrayArg* b_reduce,
                            const ArrayArg& w_expand, const ArrayArg* b_expand, const std::string& layout) {
  for (const ArrayArg* a : {&w_reduce, b_reduce, &w_expand, b_expand})
    if (a) check_same_kind(*a, x);
  return make_squeeze_excite_shape(x.shape, w_reduce.shape, b_reduce ? &b_reduce->shape : nullptr, w_expand.shape,
                                   b_expand ? &b_expand->shape : nullptr, layout);
}

}  // namespace

SqueezeExciteShape check_squeeze_excite_forward(const ArrayArg& x, const ArrayArg& w_reduce, const ArrayArg* b_reduce,
                                                const ArrayArg& w_expand, const ArrayArg* b_expand,
                                                const ArrayArg& out, const std::string& layout) {
  const SqueezeExciteShape s = shape_of(x, w_reduce, b_reduce, w_expand, b_expand, layout);
  check_same_kind(out, x);
  check_shape(out, x.shape);
  check_in_place_or_disjoint(out, {&x});
  check_no_overlap(out, {&w_reduce, b_reduce, &w_expand, b_expand});
  return s;
}

SqueezeExciteShape check_squeeze_excite_backward(const ArrayArg& grad_y, const ArrayArg& x, const ArrayArg& w_reduce,
                                                 const ArrayArg* b_reduce, const ArrayArg& w_expand,
                                                 const ArrayArg* b_expand, const ArrayArg* grad_x,
                                                 const ArrayArg* grad_w_reduce, const ArrayArg* grad_b_reduce,
                                                 const ArrayArg* grad_w_expand, const ArrayArg* grad_b_expand,
                                                 const std::string& layout) {
  const SqueezeExciteShape s = shape_of(x, w_reduce, b_reduce, w_expand, b_expand, layout);
  check_same_kind(grad_y, x);
  check_shape(grad_y, x.shape);
  const bool any = grad_w_reduce || grad_b_reduce || grad_w_expand || grad_b_expand;
  if (any && !(grad_w_reduce && grad_b_reduce && grad_w_expand && grad_b_expand))
    throw py::value_error("grad_w_reduce, grad_b_reduce, grad_w_expand, grad_b_expand: expected all four or none");
  const ArrayArg* outputs[] = {grad_x, grad_w_reduce, grad_b_reduce, grad_w_expand, grad_b_expand};
  const std::vector<int64_t> shapes[] = {x.shape, {s.R, s.C}, {s.R}, {s.C, s.R}, {s.C}};
  for (int i = 0; i < 5; ++i) {
    const ArrayArg* o = outputs[i];
    if (!o) continue;
    check_same_kind(*o, x);
    check_shape(*o, shapes[i]);
    check_no_overlap(*o, {&grad_y, &x, &w_reduce, b_reduce, &w_expand, b_expand});
    for (int j = 0; j < i; ++j)
      if (outputs[j]) check_no_overlap(*o, {outputs[j]});
  }
  return s;
}

}  // namespace opzoo::bindings
