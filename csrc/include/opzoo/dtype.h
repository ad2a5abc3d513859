// Element types of the arrays kernels read and write: float32 and float64 on the CPU,
// float32, float16 and bfloat16 on CUDA devices (accumulated in float32); int32 and
// int64 for indices (a graph's edge list and CSR).
#pragma once

namespace opzoo {

enum class DType : int { float32 = 0, float64 = 1, float16 = 2, bfloat16 = 3, int32 = 4, int64 = 5 };

inline const char* dtype_name(DType dtype) {
  switch (dtype) {
    case DType::float64:
      return "float64";
    case DType::float16:
      return "float16";
    case DType::bfloat16:
      return "bfloat16";
    case DType::int32:
      return "int32";
    case DType::int64:
      return "int64";
    case DType::float32:
      break;
  }
  return "float32";
}

inline int dtype_size(DType dtype) {
  return dtype == DType::float64 || dtype == DType::int64 ? 8 : dtype == DType::float32 || dtype == DType::int32 ? 4 : 2;
}

}  // namespace opzoo
