// dvm::secret and dvm::stdin_payload: buffers that are wiped when released and never copied
// anywhere but into each other.
#include <dvm/process.hpp>
#include <dvm/secret.hpp>

#include <algorithm>
#include <cstring>

namespace dvm {

void secure_wipe(void* data, std::size_t size) noexcept {
  if (data == nullptr || size == 0) return;
  // A volatile pointer keeps the compiler from treating the stores as dead.
  auto* p = static_cast<volatile unsigned char*>(data);
  for (std::size_t i = 0; i < size; ++i) p[i] = 0;
}

secret::secret(std::string_view value) : data_(new char[value.size() + 1]), size_(value.size()) {
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
  if (data_) secure_wipe(data_.get(), size_);
  data_.reset();
  size_ = 0;
}

stdin_payload::stdin_payload(stdin_payload&& other) noexcept
    : data_(std::move(other.data_)),
      size_(other.size_),
      capacity_(other.capacity_),
      secret_ranges_(std::move(other.secret_ranges_)) {
  other.size_ = other.capacity_ = 0;
}

stdin_payload& stdin_payload::operator=(stdin_payload&& other) noexcept {
  if (this != &other) {
    if (data_) secure_wipe(data_.get(), capacity_);
    data_ = std::move(other.data_);
    size_ = other.size_;
    capacity_ = other.capacity_;
    secret_ranges_ = std::move(other.secret_ranges_);
    other.size_ = other.capacity_ = 0;
  }
  return *this;
}

stdin_payload::~stdin_payload() {
  if (data_) secure_wipe(data_.get(), capacity_);
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
  secret_ranges_.emplace_back(size_, value.size_);
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

}  // namespace dvm
