#include "activation_shape.h"

namespace opzoo::bindings {

void check_activation_backward(const ArrayArg& z, const ArrayArg& grad, const ArrayArg& out) {
  check_same_kind(grad, z);
  check_same_kind(out, z);
  check_shape(grad, z.shape);
  check_shape(out, z.shape);
  check_no_overlap(out, {&z, &grad});
}

}  // namespace opzoo::bindings
