// dvm::secret and dvm::stdin_payload: buffers that are wiped when released and never copied
// anywhere but into each other.
#include <dvm/process.hpp>
#include <dvm/secret.hpp>

#include <algorithm>
#include <cstring>
#include <mutex>

#include <sys/resource.h>
#if defined(__linux__)
#include <sys/prctl.h>
#endif

namespace dvm::inline v0 {

namespace {

// No core dumps while secret bytes are in memory (secret.hpp): a count of the holders (secrets
// with a value, payloads with secret bytes); the first one saves the process's settings and
// turns dumps off, the last one restores what it saved.
std::mutex dump_mutex;
std::size_t dump_holders = 0;
int saved_dumpable = -1;
bool saved_core_valid = false;
struct rlimit saved_core {};

void hold_no_dumps() noexcept {
  std::lock_guard<std::mutex> lock(dump_mutex);
  if (dump_holders++ != 0) return;
#if defined(__linux__)
  saved_dumpable = ::prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
  ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
#endif
  saved_core_valid = ::getrlimit(RLIMIT_CORE, &saved_core) == 0;
  if (saved_core_valid && saved_core.rlim_cur != 0) {
    struct rlimit none = saved_core;
    none.rlim_cur = 0;  // the hard limit stays, so the soft one can be restored
    ::setrlimit(RLIMIT_CORE, &none);
  }
}

void release_no_dumps() noexcept {
  std::lock_guard<std::mutex> lock(dump_mutex);
  if (dump_holders == 0 || --dump_holders != 0) return;
#if defined(__linux__)
  if (saved_dumpable == 1) ::prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
#endif
  if (saved_core_valid && saved_core.rlim_cur != 0) {
    struct rlimit now {};
    if (::getrlimit(RLIMIT_CORE, &now) == 0) {
      now.rlim_cur = std::min(saved_core.rlim_cur, now.rlim_max);
      ::setrlimit(RLIMIT_CORE, &now);
    }
  }
}

}  // namespace

void secure_wipe(void* data, std::size_t size) noexcept {
  if (data == nullptr || size == 0) return;
  // A volatile pointer keeps the compiler from treating the stores as dead.
  auto* p = static_cast<volatile unsigned char*>(data);
  for (std::size_t i = 0; i < size; ++i) p[i] = 0;
}

secret::secret(std::string_view value) : data_(new char[value.size() + 1]), size_(value.size()) {
  hold_no_dumps();
  std::memcpy(data_.get(), value.data(), value.size());
}

secret::secret(std::string&& value) : secret(std::string_view(value)) {
  secure_wipe(value.data(), value.size());
  value.clear();
}

secret::secret(secret&& other) noexcept : data_(std::move(other.data_)), size_(other.size_) {
  other.size_ = 0;
}

secret& secret::operator=(secret&& other) noexcept {
  if (this != &other) {
    wipe();
    data_ = std::move(other.data_);
    size_ = other.size_;
    other.size_ = 0;
  }
  return *this;
}

secret::~secret() { wipe(); }

void secret::wipe() noexcept {
  if (data_) {
    secure_wipe(data_.get(), size_);
    release_no_dumps();
  }
  data_.reset();
  size_ = 0;
}

stdin_payload::stdin_payload(stdin_payload&& other) noexcept
    : data_(std::move(other.data_)),
      size_(other.size_),
      capacity_(other.capacity_),
      secret_ranges_(std::move(other.secret_ranges_)) {
  other.size_ = other.capacity_ = 0;
  other.secret_ranges_.clear();  // the hold on core dumps moves with the ranges
}

stdin_payload& stdin_payload::operator=(stdin_payload&& other) noexcept {
  if (this != &other) {
    if (data_) secure_wipe(data_.get(), capacity_);
    if (!secret_ranges_.empty()) release_no_dumps();
    data_ = std::move(other.data_);
    size_ = other.size_;
    capacity_ = other.capacity_;
    secret_ranges_ = std::move(other.secret_ranges_);
    other.size_ = other.capacity_ = 0;
    other.secret_ranges_.clear();
  }
  return *this;
}

stdin_payload::~stdin_payload() {
  if (data_) secure_wipe(data_.get(), capacity_);
  if (!secret_ranges_.empty()) release_no_dumps();
}

// Grows by allocating a new buffer and wiping the old one, so no stale copy of a secret is left
// in freed memory (std::string or std::vector would free the old buffer unwiped).
void stdin_payload::reserve(std::size_t capacity) {
  if (capacity <= capacity_) return;
  std::size_t new_capacity = std::max<std::size_t>(capacity, capacity_ * 2 + 256);
  std::unique_ptr<char[]> bigger(new char[new_capacity]);
  if (size_ > 0) std::memcpy(bigger.get(), data_.get(), size_);
  if (data_) secure_wipe(data_.get(), capacity_);
  data_ = std::move(bigger);
  capacity_ = new_capacity;
}

void stdin_payload::append(std::string_view text) {
  reserve(size_ + text.size());
  if (!text.empty()) std::memcpy(data_.get() + size_, text.data(), text.size());
  size_ += text.size();
}

void stdin_payload::append(const secret& value) {
  reserve(size_ + value.size_);
  if (value.size_ > 0) std::memcpy(data_.get() + size_, value.data_.get(), value.size_);
  const bool first = secret_ranges_.empty();
  secret_ranges_.emplace_back(size_, value.size_);
  if (first) hold_no_dumps();  // released with the payload
  size_ += value.size_;
}

std::string stdin_payload::redacted(std::string_view placeholder) const {
  std::string out;
  std::size_t pos = 0;
  for (const auto& [offset, length] : secret_ranges_) {
    out.append(data_.get() + pos, offset - pos);
    out.append(placeholder);
    pos = offset + length;
  }
  if (size_ > pos) out.append(data_.get() + pos, size_ - pos);
  return out;
}

process_runner::~process_runner() = default;

std::span<const char> process_runner::bytes_of(const stdin_payload& payload) noexcept {
  return {payload.data_.get(), payload.size_};
}

}  // namespace dvm::v0
