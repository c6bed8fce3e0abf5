// Arena bodies; compiled once into libweft.
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "weft/error.hpp"
#include "weft/object/arena.hpp"

namespace weft {

namespace {
int open_shared_memory(const std::string& name) {
  int fd = memfd_create(name.c_str(), MFD_CLOEXEC);
  if (fd >= 0) return fd;
  // memfd can be refused (old kernels, seccomp): fall back to an unlinked /dev/shm file.
  std::string path = fmt::format("/dev/shm/{}-{}", name, getpid());
  fd = open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd >= 0) unlink(path.c_str());
  return fd;
}
}  // namespace

Arena::Arena(std::size_t capacity, const std::string& name)
    : capacity_((capacity + alignment - 1) / alignment * alignment) {
  fd_ = open_shared_memory(name);
  if (fd_ < 0) {
    throw Error(fmt::format("object store: cannot create shared memory: {}", std::strerror(errno)));
  }
  if (ftruncate(fd_, static_cast<off_t>(capacity_)) != 0) {
    int err = errno;
    close(fd_);
    throw Error(fmt::format("object store: cannot size shared memory to {} bytes: {}", capacity_,
                            std::strerror(err)));
  }
  void* p = mmap(nullptr, capacity_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd_, 0);
  if (p == MAP_FAILED) {
    int err = errno;
    close(fd_);
    throw Error(
        fmt::format("object store: cannot map {} bytes: {}", capacity_, std::strerror(err)));
  }
  base_ = static_cast<std::byte*>(p);
  if (capacity_ != 0) insert_free(0, capacity_);
}

Arena::~Arena() {
  munmap(base_, capacity_);
  close(fd_);
}

std::optional<std::size_t> Arena::allocate(std::size_t n) {
  n = n == 0 ? alignment : (n + alignment - 1) / alignment * alignment;
  std::lock_guard lock(mutex_);
  auto fit = free_by_size_.lower_bound(n);
  if (fit == free_by_size_.end()) return std::nullopt;
  const std::size_t offset = fit->second;
  const std::size_t size = fit->first;
  erase_free(free_by_offset_.find(offset));
  if (size > n) insert_free(offset + n, size - n);
  allocated_.emplace(offset, n);
  used_ += n;
  return offset;
}

void Arena::free(std::size_t offset) noexcept {
  std::lock_guard lock(mutex_);
  auto a = allocated_.find(offset);
  if (a == allocated_.end()) return;
  std::size_t size = a->second;
  allocated_.erase(a);
  used_ -= size;
  // Coalesce with the free neighbours on both sides.
  auto next = free_by_offset_.lower_bound(offset);
  if (next != free_by_offset_.end() && offset + size == next->first) {
    size += next->second;
    next = std::next(next);
    erase_free(std::prev(next));
  }
  if (next != free_by_offset_.begin()) {
    auto prev = std::prev(next);
    if (prev->first + prev->second == offset) {
      offset = prev->first;
      size += prev->second;
      erase_free(prev);
    }
  }
  insert_free(offset, size);
}

std::size_t Arena::used() const noexcept {
  std::lock_guard lock(mutex_);
  return used_;
}

std::size_t Arena::largest_free_block() const noexcept {
  std::lock_guard lock(mutex_);
  return free_by_size_.empty() ? 0 : free_by_size_.rbegin()->first;
}

void Arena::insert_free(std::size_t offset, std::size_t size) {
  free_by_offset_.emplace(offset, size);
  free_by_size_.emplace(size, offset);
}

void Arena::erase_free(std::map<std::size_t, std::size_t>::iterator it) {
  auto [first, last] = free_by_size_.equal_range(it->second);
  for (auto s = first; s != last; ++s) {
    if (s->second == it->first) {
      free_by_size_.erase(s);
      break;
    }
  }
  free_by_offset_.erase(it);
}

}  // namespace weft
