#include "params.h"

namespace opzoo::bindings {

Activation parse_activation(const py::handle& activation) {
  if (activation.is_none()) return Activation::none;
  const bool is_name = py::isinstance<py::str>(activation);
  if (is_name) {
    const std::string name = activation.cast<std::string>();
    for (int i = 0; i < kNumActivations - 1; ++i)
      if (name == kActivationNames[i]) return Activation(i + 1);
  }
  std::string names = "None";
  for (const char* name : kActivationNames) names += std::string(", '") + name + "'";
  if (!is_name)
    throw py::type_error("activation: expected None or a name (" + names + "), got " +
                         std::string(py::str(py::type::handle_of(activation).attr("__name__"))));
  throw py::value_error("activation must be one of " + names + ", got '" + activation.cast<std::string>() + "'");
}

Layout parse_layout(const std::string& layout) {
  if (layout == "NCHW") return Layout::NCHW;
  if (layout == "NHWC") return Layout::NHWC;
  throw py::value_error("layout must be 'NCHW' or 'NHWC', got '" + layout + "'");
}

Quad conv_padding(const Padding& padding, int64_t H, int64_t W, int64_t kh, int64_t kw, Pair stride, Pair dilation) {
  if (const Quad* pads = std::get_if<Quad>(&padding)) {
    for (int64_t v : *pads)
      if (v < 0) throw py::value_error("padding must be >= 0, got " + std::to_string(v));
    return *pads;
  }
  const std::string& name = std::get<std::string>(padding);
  if (name == "valid") return {0, 0, 0, 0};
  if (name != "same") throw py::value_error("padding: expected an int, a tuple, 'same' or 'valid', got '" + name + "'");
  Quad pads{};
  const int64_t in[2] = {H, W}, k[2] = {kh, kw};
  for (int i = 0; i < 2; ++i) {
    const int64_t out = (in[i] + stride[i] - 1) / stride[i];
    const int64_t total = (out - 1) * stride[i] + (k[i] - 1) * dilation[i] + 1 - in[i];
    pads[2 * i] = total > 0 ? total / 2 : 0;
    pads[2 * i + 1] = total > 0 ? total - total / 2 : 0;
  }
  return pads;
}

}  // namespace opzoo::bindings
