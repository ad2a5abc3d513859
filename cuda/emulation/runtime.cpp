// The CUDA emulation layer's scheduler and runtime API (cuda_runtime.h says what it
// does and checks). One Scheduler per OS thread runs one block at a time: each CUDA
// thread is a fiber with its own stack, run until it returns or must wait; when no
// fiber can run, the waits are resolved (a complete warp collective, then a complete
// block barrier) or the launch fails with a description of every waiting thread.
#include "cuda_runtime.h"

#include <sys/mman.h>
#include <ucontext.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <string>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

#if defined(__SANITIZE_ADDRESS__)
#define OPZOO_EMU_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define OPZOO_EMU_ASAN 1
#endif
#endif
#ifdef OPZOO_EMU_ASAN
#include <sanitizer/common_interface_defs.h>
#endif
#if defined(__SANITIZE_THREAD__)
#define OPZOO_EMU_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define OPZOO_EMU_TSAN 1
#endif
#endif
#ifdef OPZOO_EMU_TSAN
#include <sanitizer/tsan_interface.h>
// The scheduler's bookkeeping, shared by the fibers it switches between, is ordered by
// those switches; ThreadSanitizer is not to check it (see Races).
#define OPZOO_EMU_UNCHECKED __attribute__((no_sanitize("thread")))
#else
#define OPZOO_EMU_UNCHECKED
#endif

namespace opzoo::emu {
namespace {

// The indices of the running fiber and its block, on this OS thread.
thread_local uint3 thread_index, block_index;
thread_local dim3 block_extent, grid_extent;

// Bytes of stack per fiber: kernels keep small arrays in registers-to-be; sanitizers
// and unoptimised builds need the room.
constexpr size_t kStackBytes = size_t(256) << 10;
constexpr int kMaxThreadsPerBlock = 1024;
constexpr size_t kMaxSharedBytes = size_t(48) << 10;

// The error state cudaGetLastError reads: the first failure since the last read.
std::mutex error_mutex;
cudaError_t sticky_error = cudaSuccess;
std::string error_message;

void record_error(cudaError_t error, const std::string& message) {
  std::lock_guard<std::mutex> lock(error_mutex);
  if (sticky_error != cudaSuccess) return;
  sticky_error = error;
  error_message = message;
}

enum class State { ready, at_barrier, at_warp, done };

// AddressSanitizer must be told of every switch between stacks (its fiber interface),
// or it mistakes the fibers' frames for overflows of one stack.
struct StackSwitch {
  void* fake_stack = nullptr;  // ASan's record of the stack being left
  void leave(const void* to_bottom, size_t to_size, bool for_good = false) {
#ifdef OPZOO_EMU_ASAN
    __sanitizer_start_switch_fiber(for_good ? nullptr : &fake_stack, to_bottom, to_size);
#else
    (void)to_bottom, (void)to_size, (void)for_good;
#endif
  }
  // On arriving; returns the stack switched from.
  void arrive(const void** from_bottom = nullptr, size_t* from_size = nullptr) {
#ifdef OPZOO_EMU_ASAN
    __sanitizer_finish_switch_fiber(fake_stack, from_bottom, from_size);
#else
    (void)from_bottom, (void)from_size;
#endif
  }
};

// ThreadSanitizer sees each CUDA thread as a fiber of its own, switched to without
// synchronisation, so memory a kernel's threads share races unless a barrier or warp
// collective orders it, as on hardware: each one releases on arriving and acquires on
// leaving. A launch's parameters reach every fiber through a release/acquire pair, and
// its results the host through a synchronising switch to each fiber after the block.
namespace races {
#ifdef OPZOO_EMU_TSAN
inline void* create() { return __tsan_create_fiber(0); }
inline void destroy(void* fiber) { __tsan_destroy_fiber(fiber); }
inline void* current() { return __tsan_get_current_fiber(); }
inline void switch_to(void* fiber) { __tsan_switch_to_fiber(fiber, __tsan_switch_to_fiber_no_sync); }
inline void release(void* token) { __tsan_release(token); }
inline void acquire(void* token) { __tsan_acquire(token); }
// Orders everything `fiber` did before what the scheduler does next, finished or not
// (a failed block leaves fibers waiting): a synchronising switch there and back.
inline void join(void* fiber, void* scheduler) {
  __tsan_switch_to_fiber(fiber, 0);
  __tsan_switch_to_fiber(scheduler, 0);
}
constexpr bool checked = true;
#else
inline void* create() { return nullptr; }
inline void destroy(void*) {}
inline void* current() { return nullptr; }
inline void switch_to(void*) {}
inline void release(void*) {}
inline void acquire(void*) {}
inline void join(void*, void*) {}
constexpr bool checked = false;
#endif
}  // namespace races

struct Fiber {
  ucontext_t context;
  StackSwitch stack;
  void* race_fiber = nullptr;
  uint3 idx;
  int linear = 0;
  State state = State::ready;
  const void* site = nullptr;  // where it waits: the __syncthreads or warp call's return address, for messages
  WarpOp op = WarpOp::sync;
  unsigned mask = 0;
  uint64_t value = 0, result = 0;
  int arg = 0, width = warpSize;
};

std::string hex(unsigned v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%08x", v);
  return buf;
}

std::string describe(const Fiber& f) {
  char buf[160];
  std::snprintf(buf, sizeof buf, "thread (%u, %u, %u) (lane %d of warp %d)", f.idx.x, f.idx.y, f.idx.z,
                f.linear % warpSize, f.linear / warpSize);
  return buf;
}

const char* op_name(WarpOp op) {
  switch (op) {
    case WarpOp::sync: return "__syncwarp";
    case WarpOp::shfl: return "__shfl_sync";
    case WarpOp::shfl_up: return "__shfl_up_sync";
    case WarpOp::shfl_down: return "__shfl_down_sync";
    case WarpOp::shfl_xor: return "__shfl_xor_sync";
    case WarpOp::ballot: return "__ballot_sync";
    case WarpOp::any: return "__any_sync";
    case WarpOp::all: return "__all_sync";
  }
  return "?";
}

class Scheduler {
 public:
  ~Scheduler() {
    for (void* s : stacks_) munmap(s, kStackBytes);
  }

  // Runs one block; returns an empty string, or what went wrong.
  OPZOO_EMU_UNCHECKED std::string run_block(dim3 block, const std::function<void()>& body) {
    const int n = int(block.x * block.y * block.z);
    fibers_.assign(size_t(n), Fiber{});
    warp_tokens_.assign(size_t((n + warpSize - 1) / warpSize), 0);
    race_scheduler_ = races::current();
    while (int(stacks_.size()) < n) {
      void* s = mmap(nullptr, kStackBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (s == MAP_FAILED) return "cannot allocate fiber stacks";
      stacks_.push_back(s);
    }
    body_ = &body;
    for (int i = 0; i < n; ++i) {
      Fiber& f = fibers_[size_t(i)];
      f.linear = i;
      f.idx = {unsigned(i) % block.x, unsigned(i) / block.x % block.y, unsigned(i) / (block.x * block.y)};
      getcontext(&f.context);
      f.context.uc_stack.ss_sp = stacks_[size_t(i)];
      f.context.uc_stack.ss_size = kStackBytes;
      f.context.uc_link = &scheduler_;
      makecontext(&f.context, &Scheduler::entry, 0);
      f.race_fiber = races::create();
    }
    races::release(&launch_token_);
    const std::string error = schedule();
    for (Fiber& f : fibers_) {
      races::join(f.race_fiber, race_scheduler_);
      races::destroy(f.race_fiber);
    }
    return error;
  }

  OPZOO_EMU_UNCHECKED std::string schedule() {
    for (;;) {
      bool ran = false;
      for (Fiber& f : fibers_)
        if (f.state == State::ready) {
          switch_to(f);
          ran = true;
        }
      if (ran) continue;
      std::string error;
      if (resolve_warps(error)) continue;
      if (!error.empty()) return error;
      if (all_done()) return "";
      if (release_barrier(error)) continue;
      return error;
    }
  }

  // Called by the running fiber: records what it waits for and yields to the scheduler.
  OPZOO_EMU_UNCHECKED void wait(State state) {
    Fiber& f = *current_;
    f.state = state;
    void* token = state == State::at_barrier ? static_cast<void*>(&barrier_token_)
                                             : static_cast<void*>(&warp_tokens_[size_t(f.linear / warpSize)]);
    races::release(token);
    f.stack.leave(scheduler_bottom_, scheduler_size_);
    races::switch_to(race_scheduler_);
    swapcontext(&f.context, &scheduler_);
    f.stack.arrive();
    races::acquire(token);
  }

  Fiber* running() { return current_; }
  void* dynamic_shared() { return dynamic_shared_.data(); }
  void set_dynamic_shared(size_t bytes) { dynamic_shared_.assign(bytes, 0xff); }  // garbage, as on hardware

 private:
  static void entry();

  OPZOO_EMU_UNCHECKED void switch_to(Fiber& f) {
    current_ = &f;
    thread_index = f.idx;
    scheduler_stack_.leave(f.context.uc_stack.ss_sp, f.context.uc_stack.ss_size);
    races::switch_to(f.race_fiber);
    swapcontext(&scheduler_, &f.context);
    scheduler_stack_.arrive();
    current_ = nullptr;
  }

  OPZOO_EMU_UNCHECKED bool all_done() const {
    for (const Fiber& f : fibers_)
      if (f.state != State::done) return false;
    return true;
  }

  // Completes the warp collectives whose every lane has arrived; sets `error` for one
  // that never can.
  OPZOO_EMU_UNCHECKED bool resolve_warps(std::string& error) {
    bool released = false;
    const int n = int(fibers_.size());
    for (int base = 0; base < n; base += warpSize) {
      for (int l = 0; l < warpSize && base + l < n; ++l) {
        Fiber& first = fibers_[size_t(base + l)];
        if (first.state != State::at_warp) continue;
        const unsigned mask = first.mask;
        bool complete = true;
        for (int m = 0; m < warpSize; ++m) {
          if (!(mask >> m & 1u)) continue;
          if (base + m >= n) {
            error = describe(first) + ": " + op_name(first.op) + " names lane " + std::to_string(m) +
                    ", past the block's last thread";
            return false;
          }
          const Fiber& other = fibers_[size_t(base + m)];
          if (other.state == State::done) {
            error = describe(first) + ": " + op_name(first.op) + " with mask 0x" + hex(mask) + " waits for " +
                    describe(other) + ", which has returned";
            return false;
          }
          if (other.state == State::at_warp && (other.mask != mask || other.op != first.op)) {
            error = describe(first) + " calls " + op_name(first.op) + " with mask 0x" + hex(mask) + ", " +
                    describe(other) + " " + op_name(other.op) + " with mask 0x" + hex(other.mask);
            return false;
          }
          if (other.state != State::at_warp) complete = false;
        }
        if (!complete) continue;
        if (!exchange(base, mask, error)) return false;
        released = true;
      }
    }
    return released;
  }

  OPZOO_EMU_UNCHECKED bool exchange(int base, unsigned mask, std::string& error) {
    const int n = int(fibers_.size());
    uint64_t ballot = 0;
    for (int m = 0; m < warpSize; ++m)
      if (mask >> m & 1u) ballot |= (fibers_[size_t(base + m)].value != 0 ? 1ull : 0ull) << m;
    for (int m = 0; m < warpSize; ++m) {
      if (!(mask >> m & 1u)) continue;
      Fiber& f = fibers_[size_t(base + m)];
      const int width = f.width, segment = m / width * width;
      int src = m;
      switch (f.op) {
        case WarpOp::shfl: src = segment + ((f.arg % width) + width) % width; break;
        case WarpOp::shfl_up: src = m - f.arg >= segment ? m - f.arg : m; break;
        case WarpOp::shfl_down: src = m + f.arg < segment + width ? m + f.arg : m; break;
        case WarpOp::shfl_xor: src = (m ^ f.arg) < segment + width ? m ^ f.arg : m; break;
        default: break;
      }
      if (!(mask >> src & 1u) || base + src >= n) {
        error = describe(f) + ": " + op_name(f.op) + " reads lane " + std::to_string(src) + ", outside mask 0x" +
                hex(mask);
        return false;
      }
      switch (f.op) {
        case WarpOp::ballot: f.result = ballot; break;
        case WarpOp::any: f.result = ballot != 0; break;
        case WarpOp::all: f.result = ballot == mask; break;
        case WarpOp::sync: f.result = 0; break;
        default: f.result = fibers_[size_t(base + src)].value;
      }
    }
    for (int m = 0; m < warpSize; ++m)
      if (mask >> m & 1u) fibers_[size_t(base + m)].state = State::ready;
    return true;
  }

  // Releases the block barrier once every thread that has not returned waits at it
  // (at any __syncthreads: hardware counts arrivals, and compilers duplicate the call
  // into both sides of a branch); otherwise sets `error` to what each thread waits for.
  OPZOO_EMU_UNCHECKED bool release_barrier(std::string& error) {
    bool waiting = false;
    for (const Fiber& f : fibers_) {
      if (f.state == State::done) continue;
      if (f.state != State::at_barrier) {
        waiting = false;
        break;
      }
      waiting = true;
    }
    if (waiting) {
      for (Fiber& f : fibers_)
        if (f.state == State::at_barrier) f.state = State::ready;
      return true;
    }
    error = "deadlock: no thread can go on:";
    int listed = 0;
    for (const Fiber& f : fibers_) {
      if (f.state == State::done || listed == 8) continue;
      char site[32];
      std::snprintf(site, sizeof site, "%p", f.site);
      error += "\n  " + describe(f) + (f.state == State::at_barrier ? " waits at __syncthreads " + std::string(site)
                                                                     : std::string(" waits in ") + op_name(f.op) +
                                                                           " with mask 0x" + hex(f.mask));
      ++listed;
    }
    return false;
  }

  std::vector<Fiber> fibers_;
  std::vector<void*> stacks_;
  std::vector<unsigned char> dynamic_shared_;
  ucontext_t scheduler_;
  StackSwitch scheduler_stack_;
  void* race_scheduler_ = nullptr;  // ThreadSanitizer's fiber of the OS thread
  char launch_token_ = 0, barrier_token_ = 0;
  std::vector<char> warp_tokens_;
  const void* scheduler_bottom_ = nullptr;  // the OS thread's stack, as ASan reports it
  size_t scheduler_size_ = 0;
  Fiber* current_ = nullptr;
  const std::function<void()>* body_ = nullptr;
};

thread_local Scheduler scheduler;

OPZOO_EMU_UNCHECKED void Scheduler::entry() {
  scheduler.current_->stack.arrive(&scheduler.scheduler_bottom_, &scheduler.scheduler_size_);
  races::acquire(&scheduler.launch_token_);
  try {
    scheduler.body_->operator()();
  } catch (const std::exception& e) {  // unwinding must not leave the fiber's stack
    record_error(cudaErrorLaunchFailure, describe(*scheduler.current_) + " threw: " + e.what());
  } catch (...) {
    record_error(cudaErrorLaunchFailure, describe(*scheduler.current_) + " threw");
  }
  scheduler.current_->state = State::done;
  scheduler.current_->stack.leave(scheduler.scheduler_bottom_, scheduler.scheduler_size_, true);
  races::switch_to(scheduler.race_scheduler_);
}  // uc_link returns to the scheduler

// The fiber of the calling CUDA thread; a device function called outside a kernel
// cannot go on.
OPZOO_EMU_UNCHECKED Fiber& running(const char* what) {
  Fiber* f = scheduler.running();
  if (!f) {
    std::fprintf(stderr, "opzoo CUDA emulation: %s called outside a kernel\n", what);
    std::abort();
  }
  return *f;
}

}  // namespace

OPZOO_EMU_UNCHECKED uint64_t warp_collective(WarpOp op, unsigned mask, uint64_t value, int arg, int width) {
  Fiber& f = running(op_name(op));
  const int lane = f.linear % warpSize;
  if (!(mask >> lane & 1u) || width < 1 || width > warpSize || (width & (width - 1))) {
    record_error(cudaErrorLaunchFailure, describe(f) + ": " + op_name(op) + " with mask 0x" + hex(mask) +
                                             " and width " + std::to_string(width) +
                                             " (the mask must name the calling lane; width a power of two <= 32)");
    mask = 1u << lane;  // go on alone; the launch reports the error
  }
  f.op = op;
  f.mask = mask;
  f.value = value;
  f.arg = arg;
  f.width = width;
  f.site = __builtin_return_address(0);
  scheduler.wait(State::at_warp);
  return f.result;
}

void* dynamic_shared() { return scheduler.dynamic_shared(); }
const uint3& thread_idx() { return thread_index; }
const uint3& block_idx() { return block_index; }
const dim3& block_dim() { return block_extent; }
const dim3& grid_dim() { return grid_extent; }

void launch(dim3 grid, dim3 block, size_t shared_bytes, const std::function<void()>& body) {
  const uint64_t threads = uint64_t(block.x) * block.y * block.z;
  const uint64_t blocks = uint64_t(grid.x) * grid.y * grid.z;
  if (threads == 0 || threads > kMaxThreadsPerBlock || blocks == 0 || shared_bytes > kMaxSharedBytes) {
    record_error(cudaErrorInvalidConfiguration,
                 "launch with grid (" + std::to_string(grid.x) + ", " + std::to_string(grid.y) + ", " +
                     std::to_string(grid.z) + "), block (" + std::to_string(block.x) + ", " + std::to_string(block.y) +
                     ", " + std::to_string(block.z) + ") and " + std::to_string(shared_bytes) +
                     " bytes of dynamic shared memory: invalid configuration");
    return;
  }
  std::string first_error;
  std::mutex first_error_mutex;
  // Under ThreadSanitizer blocks run one after another: it does not see libgomp's
  // synchronisation, and the races to find are between a block's threads.
#pragma omp parallel for schedule(dynamic, 1) if (!races::checked)
  for (int64_t b = 0; b < int64_t(blocks); ++b) {
    block_index = {unsigned(b % grid.x), unsigned(b / grid.x % grid.y), unsigned(b / (uint64_t(grid.x) * grid.y))};
    block_extent = block;
    grid_extent = grid;
    scheduler.set_dynamic_shared(shared_bytes);
    const std::string error = scheduler.run_block(block, body);
    if (!error.empty()) {
      std::lock_guard<std::mutex> lock(first_error_mutex);
      if (first_error.empty())
        first_error = "block (" + std::to_string(block_index.x) + ", " + std::to_string(block_index.y) + ", " +
                      std::to_string(block_index.z) + "): " + error;
    }
  }
  if (!first_error.empty()) record_error(cudaErrorLaunchFailure, first_error);
}

}  // namespace opzoo::emu

OPZOO_EMU_UNCHECKED void __syncthreads() {
  opzoo::emu::Fiber& f = opzoo::emu::running("__syncthreads");
  f.site = __builtin_return_address(0);
  opzoo::emu::scheduler.wait(opzoo::emu::State::at_barrier);
}

// ---------------------------------------------------------------------------------
// Runtime API: the toolkit declares it extern "C".

extern "C" {

cudaError_t cudaMalloc(void** ptr, size_t bytes) {
  if (!ptr) return cudaErrorInvalidValue;
  *ptr = bytes ? std::aligned_alloc(256, (bytes + 255) / 256 * 256) : nullptr;
  return bytes && !*ptr ? cudaErrorMemoryAllocation : cudaSuccess;
}
cudaError_t cudaFree(void* ptr) {
  std::free(ptr);
  return cudaSuccess;
}
// Stream-ordered allocation: work on a stream runs at once here, so in order.
cudaError_t cudaMallocAsync(void** ptr, size_t bytes, cudaStream_t) { return cudaMalloc(ptr, bytes); }
cudaError_t cudaFreeAsync(void* ptr, cudaStream_t) { return cudaFree(ptr); }
cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind) {
  if (bytes) std::memmove(dst, src, bytes);
  return cudaSuccess;
}
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind, cudaStream_t) {
  return cudaMemcpy(dst, src, bytes, kind);
}
cudaError_t cudaMemset(void* dst, int value, size_t bytes) {
  if (bytes) std::memset(dst, value, bytes);
  return cudaSuccess;
}
cudaError_t cudaMemsetAsync(void* dst, int value, size_t bytes, cudaStream_t) { return cudaMemset(dst, value, bytes); }
cudaError_t cudaStreamCreate(cudaStream_t* stream) {
  static int streams = 0;  // distinct non-null handles; work on them runs at once, so in order
  *stream = reinterpret_cast<cudaStream_t>(uintptr_t(++streams) * 16);
  return cudaSuccess;
}
cudaError_t cudaStreamDestroy(cudaStream_t) { return cudaSuccess; }
cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }
cudaError_t cudaDeviceSynchronize() { return cudaSuccess; }
cudaError_t cudaGetDevice(int* device) {
  *device = 0;
  return cudaSuccess;
}
cudaError_t cudaSetDevice(int device) {
  if (device == 0) return cudaSuccess;
  opzoo::emu::record_error(cudaErrorInvalidDevice, "cudaSetDevice(" + std::to_string(device) +
                                                       "): the emulated build has device 0 only");
  return cudaErrorInvalidDevice;
}
cudaError_t cudaGetDeviceCount(int* count) {
  *count = 1;
  return cudaSuccess;
}
cudaError_t cudaGetDeviceProperties(cudaDeviceProp* prop, int device) {
  if (device != 0) return cudaErrorInvalidDevice;
  *prop = cudaDeviceProp{};
  std::snprintf(prop->name, sizeof prop->name, "opzoo CUDA emulation (host CPU)");
  prop->sharedMemPerBlock = opzoo::emu::kMaxSharedBytes;
  prop->maxThreadsPerBlock = opzoo::emu::kMaxThreadsPerBlock;
  prop->warpSize = warpSize;
  prop->multiProcessorCount = 1;
  return cudaSuccess;
}
cudaError_t cudaRuntimeGetVersion(int* version) {
  *version = 0;  // no CUDA runtime: info() reports the build as emulated
  return cudaSuccess;
}
cudaError_t cudaPeekAtLastError() {
  std::lock_guard<std::mutex> lock(opzoo::emu::error_mutex);
  return opzoo::emu::sticky_error;
}
cudaError_t cudaGetLastError() {
  std::lock_guard<std::mutex> lock(opzoo::emu::error_mutex);
  const cudaError_t e = opzoo::emu::sticky_error;
  opzoo::emu::sticky_error = cudaSuccess;
  return e;
}
const char* cudaGetErrorString(cudaError_t error) {
  thread_local std::string text;
  {
    std::lock_guard<std::mutex> lock(opzoo::emu::error_mutex);
    if (!opzoo::emu::error_message.empty() && error != cudaSuccess) {
      text = opzoo::emu::error_message;
      opzoo::emu::error_message.clear();
      return text.c_str();
    }
  }
  switch (error) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    case cudaErrorInvalidDevice: return "invalid device ordinal";
    case cudaErrorLaunchFailure: return "unspecified launch failure";
    default: return "unknown error";
  }
}

}  // extern "C"
