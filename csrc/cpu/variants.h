// The SIMD variants of every family's kernels, and the picker the dispatchers and the
// C++ variant tests share. A family's kernel table for ISA `isa` is the constant
// <family>_<isa>, defined in csrc/cpu/<family>_<isa>.cpp (arm/<family>_neon.cpp), a
// file CMakeLists.txt's opzoo_add_family compiles with that ISA's flags.
#pragma once

#include <vector>

#include "opzoo/runtime.h"

// X(isa, args...) for each ISA this build compiles, the portable one first. CMake
// names the same list (OPZOO_ISAS) to find the files and their flags.
#if defined(OPZOO_X86_VARIANTS)
#define OPZOO_FOR_EACH_ISA(X, ...) X(scalar, __VA_ARGS__) X(avx2, __VA_ARGS__) X(avx512, __VA_ARGS__)
#elif defined(OPZOO_ARM_VARIANTS)
#define OPZOO_FOR_EACH_ISA(X, ...) X(scalar, __VA_ARGS__) X(neon, __VA_ARGS__)
#else
#define OPZOO_FOR_EACH_ISA(X, ...) X(scalar, __VA_ARGS__)
#endif

namespace opzoo::cpu {

template <class Table>
struct Variant {
  SimdLevel level;
  const Table* table;
};

namespace {

// The variant for `level`, or the portable one (first in the list) where this build has none.
template <class Table>
const Table& pick_variant(const std::vector<Variant<Table>>& variants, SimdLevel level) {
  for (const Variant<Table>& v : variants)
    if (v.level == level) return *v.table;
  return *variants.front().table;
}

}  // namespace

}  // namespace opzoo::cpu

#define OPZOO_DECLARE_VARIANT_(isa, Table, family) extern const Table family##_##isa;
#define OPZOO_LIST_VARIANT_(isa, Table, family) ::opzoo::cpu::Variant<Table>{::opzoo::SimdLevel::isa, &family##_##isa},

// Declares `family`'s table of type Table for each ISA, and family_variants(): the list
// of them, portable first, for pick_variant. Use inside namespace opzoo::cpu. The list
// has internal linkage, as the kernels do (kernel_common.h says why): an ISA file that
// includes it keeps its own copy.
#define OPZOO_DECLARE_VARIANTS(Table, family)                                                          \
  OPZOO_FOR_EACH_ISA(OPZOO_DECLARE_VARIANT_, Table, family)                                            \
  namespace {                                                                                          \
  inline const std::vector<::opzoo::cpu::Variant<Table>>& family##_variants() {                         \
    static const std::vector<::opzoo::cpu::Variant<Table>> variants{                                    \
        OPZOO_FOR_EACH_ISA(OPZOO_LIST_VARIANT_, Table, family)};                                        \
    return variants;                                                                                    \
  }                                                                                                    \
  }
