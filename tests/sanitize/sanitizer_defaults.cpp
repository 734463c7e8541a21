// Linked into every executable of a DVM_SANITIZE=ON build (cmake/dvm-fuzz.cmake). The sanitizer
// runtimes read these defaults before ASAN_OPTIONS/UBSAN_OPTIONS/LSAN_OPTIONS, so they hold even
// for the `dvm` processes the end-to-end tests start with a clean environment: the first report
// stops the process (SIGABRT), leaks are reported at exit, and every report is also written to
// DVM_SANITIZER_LOG_PATH.<pid>, where the sanitize test looks for them after the suite (a report
// from a process whose failure a test expected still fails the run).
#ifndef DVM_SANITIZER_LOG_PATH
#error "DVM_SANITIZER_LOG_PATH must name the report file prefix"
#endif

#define DVM_SANITIZER_COMMON \
  "halt_on_error=1:abort_on_error=1:print_stacktrace=1:log_path=" DVM_SANITIZER_LOG_PATH

extern "C" {
__attribute__((visibility("default"), used)) const char* __asan_default_options() {
  return DVM_SANITIZER_COMMON ":detect_leaks=1:detect_stack_use_after_return=1:strict_string_checks=1"
                              ":check_initialization_order=1:strict_init_order=1";
}
__attribute__((visibility("default"), used)) const char* __ubsan_default_options() {
  return DVM_SANITIZER_COMMON;
}
__attribute__((visibility("default"), used)) const char* __lsan_default_options() {
  return DVM_SANITIZER_COMMON;
}
}
