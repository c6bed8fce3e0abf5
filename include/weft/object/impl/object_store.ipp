// ObjectStore bodies; compiled once into libweft.
#include <unistd.h>

#include <new>
#include <string>

#include <fmt/format.h>

#include "weft/core/log.hpp"
#include "weft/error.hpp"
#include "weft/object/object_state.hpp"
#include "weft/object/object_store.hpp"

namespace weft {

namespace {
std::size_t default_capacity() {
  const long pages = sysconf(_SC_PHYS_PAGES);
  const long page_size = sysconf(_SC_PAGE_SIZE);
  if (pages <= 0 || page_size <= 0) return std::size_t{1} << 30;
  return static_cast<std::size_t>(pages) * static_cast<std::size_t>(page_size) / 10 * 3;
}

std::string human_bytes(std::size_t n) {
  if (n >= (std::size_t{1} << 30)) return fmt::format("{:.1f} GiB", double(n) / (1 << 30));
  if (n >= (std::size_t{1} << 20)) return fmt::format("{:.1f} MiB", double(n) / (1 << 20));
  if (n >= 1024) return fmt::format("{:.1f} KiB", double(n) / 1024);
  return fmt::format("{} B", n);
}

constexpr std::align_val_t heap_alignment{64};
}  // namespace

void PayloadBuffer::reset() noexcept {
  if (data_ == nullptr) return;
  if (arena_ != nullptr) {
    arena_->free(static_cast<std::size_t>(data_ - arena_->base()));
  } else {
    ::operator delete(data_, heap_alignment);
  }
  data_ = nullptr;
}

ObjectStore::ObjectStore(NodeId node, ObjectStoreOptions options)
    : node_(node),
      options_(std::move(options)),
      arena_(options_.capacity != 0 ? options_.capacity : default_capacity(), options_.name) {}

PayloadBuffer ObjectStore::allocate(std::size_t size, ObjectId id) {
  if (size < options_.inline_threshold) {
    auto* p = static_cast<std::byte*>(::operator new(size == 0 ? 1 : size, heap_alignment));
    return PayloadBuffer(p, size, nullptr);
  }
  if (size > arena_.capacity()) {
    throw ObjectStoreFullError(
        fmt::format("object {} of {} does not fit the {} object store; raise the store capacity",
                    id.to_string(), human_bytes(size), human_bytes(arena_.capacity())));
  }
  auto offset = arena_.allocate(size);
  if (!offset) {
    throw ObjectStoreFullError(fmt::format(
        "object {} of {} does not fit: the object store has {} of {} in use and its largest free "
        "block is {}; release references to objects you no longer need",
        id.to_string(), human_bytes(size), human_bytes(arena_.used()),
        human_bytes(arena_.capacity()), human_bytes(arena_.largest_free_block())));
  }
  return PayloadBuffer(arena_.base() + *offset, size, &arena_);
}

void ObjectStore::add_exported(ObjectId id, detail::ObjectState* state) {
  std::lock_guard lock(exported_mutex_);
  exported_.insert_or_assign(id, state);
}

void ObjectStore::remove_exported(ObjectId id, const detail::ObjectState* state) noexcept {
  std::lock_guard lock(exported_mutex_);
  // Another state may hold the id now (a copy of a remote object made anew).
  if (auto it = exported_.find(id); it != exported_.end() && it->second == state) {
    exported_.erase(it);
  }
}

detail::ObjectState* ObjectStore::acquire_exported(ObjectId id) {
  std::lock_guard lock(exported_mutex_);
  auto it = exported_.find(id);
  if (it == exported_.end() || !it->second->try_add_ref()) return nullptr;
  return it->second;
}

void ObjectStore::unread_error_dropped(ObjectId id, const std::exception_ptr& error) noexcept {
  if (!options_.log_unread_errors) return;
  std::string what;
  try {
    std::rethrow_exception(error);
  } catch (const TaskError& e) {
    what = fmt::format("task {} threw {}: {}", e.task_name(), e.type_name(), e.what());
  } catch (const std::exception& e) {
    what = e.what();
  } catch (...) {
    what = "a non-standard exception";
  }
  log(LogLevel::warn,
      "object {} died with an error nobody read: {} (await or get the ref to handle it; "
      "ObjectStoreOptions::log_unread_errors = false silences this)",
      id.to_string(), what);
}

}  // namespace weft
