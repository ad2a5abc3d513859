#include "params.h"

#include "opzoo/window.h"

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

namespace {

const char* const kAxisName[2] = {"height", "width"};

std::string pair_str(Pair p) { return "(" + std::to_string(p[0]) + ", " + std::to_string(p[1]) + ")"; }

// (k - 1) * dilation + 1: the input extent one output's window spans.
int64_t window_span(int64_t k, int64_t dilation, int axis) {
  int64_t span;
  if (__builtin_mul_overflow(k - 1, dilation, &span) || __builtin_add_overflow(span, int64_t(1), &span))
    throw py::value_error("dilation: a window of " + std::to_string(k) + " taps at dilation " +
                          std::to_string(dilation) + " spans more than 2**63 - 1 pixels of the input's " +
                          kAxisName[axis]);
  return span;
}

}  // namespace

Window2d conv_window(const Padding& padding, int64_t H, int64_t W, int64_t kh, int64_t kw, Pair stride,
                     Pair dilation) {
  for (int64_t v : stride)
    if (v < 1) throw py::value_error("stride must be >= 1, got " + std::to_string(v));
  for (int64_t v : dilation)
    if (v < 1) throw py::value_error("dilation must be >= 1, got " + std::to_string(v));
  const int64_t in[2] = {H, W};
  const int64_t span[2] = {window_span(kh, dilation[0], 0), window_span(kw, dilation[1], 1)};
  Window2d g{};
  if (const Quad* pads = std::get_if<Quad>(&padding)) {
    for (int64_t v : *pads)
      if (v < 0) throw py::value_error("padding must be >= 0, got " + std::to_string(v));
    g.pads = *pads;
  } else {
    const std::string& name = std::get<std::string>(padding);
    if (name != "same" && name != "valid")
      throw py::value_error("padding: expected an int, a tuple, 'same' or 'valid', got '" + name + "'");
    for (int i = 0; name == "same" && i < 2; ++i) {
      const int64_t out = in[i] / stride[i] + (in[i] % stride[i] != 0);
      // span + (out - 1) * stride - in, without the sum that could leave int64:
      // in - (out - 1) * stride lies in [1, stride] (stride itself when in is 0).
      const int64_t total = span[i] - (in[i] - (out - 1) * stride[i]);
      g.pads[2 * i] = total > 0 ? total / 2 : 0;
      g.pads[2 * i + 1] = total > 0 ? total - total / 2 : 0;
    }
  }
  int64_t padded[2];
  for (int i = 0; i < 2; ++i)
    if (__builtin_add_overflow(in[i], g.pads[2 * i], &padded[i]) ||
        __builtin_add_overflow(padded[i], g.pads[2 * i + 1], &padded[i]))
      throw py::value_error("padding: the input's " + std::string(kAxisName[i]) + " " + std::to_string(in[i]) +
                            " padded by " + pair_str({g.pads[2 * i], g.pads[2 * i + 1]}) +
                            " is more than 2**63 - 1 pixels");
  if (padded[0] < span[0] || padded[1] < span[1])
    throw py::value_error("kernel " + pair_str({kh, kw}) + " with dilation " + pair_str(dilation) +
                          " spans more than the padded input " + pair_str({padded[0], padded[1]}));
  for (int i = 0; i < 2; ++i) g.out[i] = conv_output_extent(in[i], g.pads[2 * i], g.pads[2 * i + 1], i ? kw : kh,
                                                            stride[i], dilation[i]);
  return g;
}

}  // namespace opzoo::bindings
