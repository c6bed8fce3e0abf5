// Build configuration shared by every weft header.
//
// weft is header-mostly in the Asio style: templates live in headers, and
// non-template bodies live in `impl/*.ipp` files that are compiled exactly once
// into the weft library (src/weft.cpp includes them all).
#pragma once

#include <cstddef>

#if defined(__GNUC__)
#define WEFT_LIKELY(x) __builtin_expect(!!(x), 1)
#define WEFT_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define WEFT_LIKELY(x) (x)
#define WEFT_UNLIKELY(x) (x)
#endif

namespace weft {
// Destructive interference size; std::hardware_destructive_interference_size
// warns under GCC 12 when used in headers, so we fix it for x86-64/arm64.
inline constexpr std::size_t cache_line_size = 64;
}  // namespace weft
