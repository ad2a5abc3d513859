# Cross-build for AArch64 Linux on an x86-64 host with Debian's g++-aarch64-linux-gnu;
# CTest runs the built tests under qemu-aarch64 (Debian's qemu-user).
#   cmake -S . -B build-arm -DCMAKE_TOOLCHAIN_FILE=arm/toolchain-aarch64.cmake \
#         -DOPZOO_PYTHON=OFF -DOPZOO_BUILD_TESTS=ON
#   cmake --build build-arm && ctest --test-dir build-arm --output-on-failure
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(OPZOO_AARCH64_PREFIX aarch64-linux-gnu CACHE STRING "Prefix of the cross compiler's tools")
set(CMAKE_C_COMPILER ${OPZOO_AARCH64_PREFIX}-gcc)
set(CMAKE_CXX_COMPILER ${OPZOO_AARCH64_PREFIX}-g++)

# The target's libraries (libstdc++, libgomp) live in the cross toolchain's sysroot.
set(OPZOO_AARCH64_SYSROOT /usr/${OPZOO_AARCH64_PREFIX} CACHE PATH "Root of the AArch64 libraries")
set(CMAKE_FIND_ROOT_PATH ${OPZOO_AARCH64_SYSROOT})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

find_program(OPZOO_QEMU_AARCH64 NAMES qemu-aarch64 qemu-aarch64-static)
if(OPZOO_QEMU_AARCH64)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${OPZOO_QEMU_AARCH64} -L ${OPZOO_AARCH64_SYSROOT})
endif()
