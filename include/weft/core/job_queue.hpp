// A growable ring of Jobs, used as a FIFO or a deque. Not synchronised: owners guard it.
#pragma once

#include <cstddef>
#include <memory>

#include "weft/core/executor.hpp"

namespace weft::detail {

class JobQueue {
 public:
  bool empty() const noexcept { return size_ == 0; }
  std::size_t size() const noexcept { return size_; }

  void push_back(Job j) {
    if (size_ == capacity_) grow();
    ring_[(head_ + size_) & (capacity_ - 1)] = j;
    ++size_;
  }
  void push_front(Job j) {
    if (size_ == capacity_) grow();
    head_ = (head_ + capacity_ - 1) & (capacity_ - 1);
    ring_[head_] = j;
    ++size_;
  }
  Job pop_front() noexcept {
    if (size_ == 0) return {};
    Job j = ring_[head_];
    head_ = (head_ + 1) & (capacity_ - 1);
    --size_;
    return j;
  }
  Job pop_back() noexcept {
    if (size_ == 0) return {};
    --size_;
    return ring_[(head_ + size_) & (capacity_ - 1)];
  }

 private:
  void grow() {
    std::size_t cap = capacity_ == 0 ? 64 : capacity_ * 2;
    auto ring = std::make_unique<Job[]>(cap);
    for (std::size_t i = 0; i < size_; ++i) ring[i] = ring_[(head_ + i) & (capacity_ - 1)];
    ring_ = std::move(ring);
    capacity_ = cap;
    head_ = 0;
  }

  std::unique_ptr<Job[]> ring_;
  std::size_t capacity_ = 0;  // always a power of two
  std::size_t head_ = 0;
  std::size_t size_ = 0;
};

}  // namespace weft::detail
