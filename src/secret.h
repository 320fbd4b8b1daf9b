// Secrets: generation from the kernel's cryptographic random source, printed
// as base-32 text, and comparison in constant time.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace activity {

// Length of generate_secret()'s text (also each server's own id).
inline constexpr std::size_t kGeneratedSecretBytes = 26;

// 128 random bits as 26 characters of RFC 4648 base-32 (lower case, no
// padding). Throws std::runtime_error if the kernel cannot supply them.
std::string generate_secret();

// Compares without an early exit, so the time taken does not reveal how
// many leading bytes matched.
bool secrets_equal(std::string_view a, std::string_view b);

}  // namespace activity
