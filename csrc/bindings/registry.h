// Binding files register themselves with the module they are compiled into, so
// module.cpp names no family: OPZOO_BINDINGS(name) { m.def(...); } at namespace scope
// of a binding file defines the function that adds its definitions to module `m`.
#pragma once

#include <pybind11/pybind11.h>

namespace opzoo::bindings {

using RegisterFunction = void (*)(pybind11::module_&);

struct Registration {
  Registration(const char* name, RegisterFunction add);
};

// Runs every registered function on `m`, in the order of their names.
void register_all(pybind11::module_& m);

}  // namespace opzoo::bindings

#define OPZOO_BINDINGS(name)                                                                        \
  static void opzoo_bindings_##name(::pybind11::module_& m);                                        \
  static const ::opzoo::bindings::Registration opzoo_registration_##name(#name, opzoo_bindings_##name); \
  static void opzoo_bindings_##name(::pybind11::module_& m)
