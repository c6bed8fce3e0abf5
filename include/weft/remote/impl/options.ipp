// Name and CustomResources; compiled once into libweft.
#include <algorithm>
#include <cmath>
#include <cstring>

#include <fmt/format.h>

#include "weft/error.hpp"
#include "weft/remote/options.hpp"

namespace weft {

Name::Name(std::string_view s) {
  if (s.size() > capacity) {
    throw UsageError(
        fmt::format("name '{}...' is longer than {} bytes", s.substr(0, 16), capacity));
  }
  std::memcpy(data_, s.data(), s.size());
  size_ = static_cast<std::uint8_t>(s.size());
}

CustomResources::CustomResources(std::initializer_list<CustomResource> items) {
  for (const auto& item : items) set(item.name, item.amount);
}

const double* CustomResources::find(std::string_view name) const noexcept {
  for (const auto& item : *this) {
    if (item.name.view() == name) return &item.amount;
  }
  return nullptr;
}

void CustomResources::set(std::string_view name, double amount) {
  for (std::uint8_t i = 0; i < size_; ++i) {
    if (items_[i].name.view() == name) {
      items_[i].amount = amount;
      return;
    }
  }
  if (size_ == capacity) {
    throw UsageError(
        fmt::format("at most {} custom resources; '{}' is one too many", capacity, name));
  }
  items_[size_++] = CustomResource{Name(name), amount};
}

bool operator==(const CustomResources& a, const CustomResources& b) noexcept {
  return a.size() == b.size() && std::all_of(a.begin(), a.end(), [&](const CustomResource& item) {
           const double* other = b.find(item.name);
           return other != nullptr && *other == item.amount;
         });
}

std::int64_t detail::to_milli(double amount) noexcept {
  return static_cast<std::int64_t>(std::llround(amount * 1000));
}

double detail::from_milli(std::int64_t milli) noexcept {
  return static_cast<double>(milli) / 1000.0;
}

void detail::set_resource(Resources& r, std::string_view name, double amount) {
  if (name == "cpu") {
    r.cpu = amount;
  } else if (name == "gpu") {
    r.gpu = amount;
  } else if (name == "memory") {
    r.memory = amount;
  } else {
    r.custom.set(name, amount);
  }
}

void detail::check_actor_options(const ActorOptions& options) {
  // Accepting them would promise a recovery that does not happen.
  if (options.max_restarts != 0 || options.max_task_retries != 0) {
    throw UsageError(fmt::format(
        "ActorOptions: max_restarts ({}) and max_task_retries ({}) are not supported yet: an "
        "actor whose node dies is not restarted and its pending calls fail with "
        "ActorDiedError; leave both at 0 and create a new actor when a call fails that way",
        options.max_restarts, options.max_task_retries));
  }
}

}  // namespace weft
