// Symbol visibility for libdvm's public API. libdvm is built with hidden visibility by default;
// everything a program may call is marked DVM_EXPORT.
#pragma once

#if defined(_WIN32)
#define DVM_EXPORT
#else
#define DVM_EXPORT __attribute__((visibility("default")))
#endif
