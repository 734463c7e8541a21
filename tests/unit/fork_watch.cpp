// Replaces the global operator new/delete of the executable it is linked into (and of the
// libraries it loads). The replacement allocates with malloc as usual, but once watching is on,
// a call from a process whose pid is not the watching process's (a forked child that has not
// exec'd yet) reports it with async-signal-safe calls and ends that child with status 98.
#include "fork_watch.hpp"

#include <atomic>
#include <cstdlib>
#include <new>

#include <unistd.h>

namespace {

// 0 until watching starts. Constant-initialised, so it is valid before any static constructor.
std::atomic<pid_t> watching_pid{0};

void* allocate(std::size_t size) {
  pid_t watcher = watching_pid.load(std::memory_order_relaxed);
  if (watcher != 0 && ::getpid() != watcher) {
    static const char message[] = "allocation between fork and exec\n";
    [[maybe_unused]] ssize_t n = ::write(STDERR_FILENO, message, sizeof message - 1);
    ::_exit(98);
  }
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}

}  // namespace

namespace dvm_test {
void watch_allocations_in_forked_children() { watching_pid.store(::getpid()); }
}  // namespace dvm_test

void* operator new(std::size_t size) { return allocate(size); }
void* operator new[](std::size_t size) { return allocate(size); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
