// ControlStore's snapshots (the embedded backend's file); compiled once into libweft.
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <system_error>

#include <fmt/format.h>

#include "weft/error.hpp"
#include "weft/node/control_store.hpp"
#include "weft/object/codec.hpp"

namespace weft::detail {

// --- snapshots ---------------------------------------------------------------
//
// Layout: magic, format version, then the counters and every table, each
// field through weft's codecs. A change of layout bumps the format version;
// old snapshots are then refused with a clear error, not misread.

namespace {

constexpr std::uint64_t snapshot_magic = 0x31305343'54464557;  // "WEFTCS01" read little-endian
constexpr std::uint32_t snapshot_format = 1;

template <typename T, typename W>
void snap_put(W& out, const T& v) {
  Codec<T>::encode(out, v);
}

template <typename T>
T snap_take(ByteReader& in) {
  return Codec<T>::decode(in);
}

template <typename W>
void put_resources(W& out, const Resources& r) {
  snap_put(out, r.cpu);
  snap_put(out, r.gpu);
  snap_put(out, r.memory);
  std::map<std::string, double> custom;
  for (const auto& [name, amount] : r.custom) custom.emplace(name.str(), amount);
  snap_put(out, custom);
}

Resources take_resources(ByteReader& in) {
  Resources r;
  r.cpu = snap_take<double>(in);
  r.gpu = snap_take<double>(in);
  r.memory = snap_take<double>(in);
  for (const auto& [name, amount] : snap_take<std::map<std::string, double>>(in)) {
    r.custom.set(name, amount);
  }
  return r;
}

template <typename E>
E take_enum(ByteReader& in, E last, const char* what) {
  const auto raw = snap_take<std::underlying_type_t<E>>(in);
  if (raw > static_cast<std::underlying_type_t<E>>(last)) {
    throw DecodeError(fmt::format("snapshot holds an invalid {} ({})", what, raw));
  }
  return static_cast<E>(raw);
}

}  // namespace

template <typename W>
void ControlStore::encode(W& out) const {
  snap_put(out, snapshot_magic);
  snap_put(out, snapshot_format);
  for (auto v : {version_, next_node_id_, next_actor_id_, next_job_id_, next_group_id_}) {
    snap_put(out, v);
  }
  snap_put<std::uint64_t>(out, nodes_.size());
  for (const auto& [id, r] : nodes_) {
    snap_put(out, r.info.id);
    snap_put(out, r.info.host);
    snap_put(out, r.info.port);
    put_resources(out, r.info.totals);
    snap_put(out, r.info.store_capacity);
    snap_put(out, r.info.pid);
  }
  snap_put<std::uint64_t>(out, actors_.size());
  for (const auto& [id, a] : actors_) {
    snap_put(out, a.actor_id);
    snap_put(out, a.name);
    snap_put(out, a.class_name);
    snap_put(out, a.node);
    snap_put(out, a.state);
    snap_put(out, a.restarts);
    snap_put(out, a.max_restarts);
  }
  snap_put<std::uint64_t>(out, jobs_.size());
  for (const auto& [id, j] : jobs_) {
    snap_put(out, j.job_id);
    snap_put(out, j.driver_node);
    snap_put(out, j.started_ms);
    snap_put<std::uint8_t>(out, j.finished ? 1 : 0);
  }
  snap_put<std::uint64_t>(out, kv_.size());
  for (const auto& [key, value] : kv_) {
    snap_put(out, key);
    snap_put(out, value);
  }
  snap_put<std::uint64_t>(out, groups_.size());
  for (const auto& [id, g] : groups_) {
    snap_put(out, g.id);
    snap_put(out, g.strategy);
    snap_put<std::uint64_t>(out, g.bundles.size());
    for (const auto& b : g.bundles) put_resources(out, b);
    snap_put(out, g.bundle_nodes);
  }
}

void ControlStore::decode(ByteReader& in) {
  if (snap_take<std::uint64_t>(in) != snapshot_magic) {
    throw DecodeError("not a weft control store snapshot (bad magic number)");
  }
  if (const auto format = snap_take<std::uint32_t>(in); format != snapshot_format) {
    throw DecodeError(fmt::format(
        "control store snapshot has format {}, this build reads format {}; start the head "
        "without it or with the weft version that wrote it",
        format, snapshot_format));
  }
  // The restored view differs from the saved one (every node is dead), so
  // it gets a version of its own.
  version_ = snap_take<std::uint64_t>(in) + 1;
  next_node_id_ = snap_take<std::uint64_t>(in);
  next_actor_id_ = snap_take<std::uint64_t>(in);
  next_job_id_ = snap_take<std::uint64_t>(in);
  next_group_id_ = snap_take<std::uint64_t>(in);

  for (auto n = in.read_length(1); n > 0; --n) {
    NodeInfo info;
    info.id = snap_take<NodeId>(in);
    info.host = snap_take<std::string>(in);
    info.port = snap_take<std::uint16_t>(in);
    info.totals = take_resources(in);
    info.store_capacity = snap_take<std::uint64_t>(in);
    info.pid = snap_take<int>(in);
    auto& r = nodes_[info.id];
    r.load = idle_load(info);
    r.info = std::move(info);
    r.alive = false;
  }
  for (auto n = in.read_length(1); n > 0; --n) {
    ActorEntry a;
    a.actor_id = snap_take<std::uint64_t>(in);
    a.name = snap_take<std::string>(in);
    a.class_name = snap_take<std::string>(in);
    a.node = snap_take<NodeId>(in);
    a.state = take_enum(in, ActorState::dead, "actor state");
    a.restarts = snap_take<int>(in);
    a.max_restarts = snap_take<int>(in);
    actors_[a.actor_id] = std::move(a);
  }
  for (auto n = in.read_length(1); n > 0; --n) {
    JobEntry j;
    j.job_id = snap_take<std::uint64_t>(in);
    j.driver_node = snap_take<NodeId>(in);
    j.started_ms = snap_take<std::int64_t>(in);
    j.finished = snap_take<std::uint8_t>(in) != 0;
    jobs_[j.job_id] = j;
  }
  for (auto n = in.read_length(1); n > 0; --n) {
    auto key = snap_take<std::string>(in);
    kv_[std::move(key)] = snap_take<std::string>(in);
  }
  for (auto n = in.read_length(1); n > 0; --n) {
    PlacementGroup g;
    g.id = snap_take<std::uint64_t>(in);
    g.strategy = take_enum(in, PlacementStrategy::strict_spread, "placement strategy");
    for (auto b = in.read_length(1); b > 0; --b) g.bundles.push_back(take_resources(in));
    g.bundle_nodes = snap_take<std::vector<NodeId>>(in);
    if (g.bundle_nodes.size() != g.bundles.size()) {
      throw DecodeError(fmt::format("snapshot's placement group {} has {} bundles but {} nodes",
                                    g.id, g.bundles.size(), g.bundle_nodes.size()));
    }
    reserve(g, true);
    groups_[g.id] = std::move(g);
  }
  if (in.remaining() != 0) {
    throw DecodeError(
        fmt::format("control store snapshot has {} unexpected trailing bytes", in.remaining()));
  }
}

void ControlStore::save_snapshot(const std::filesystem::path& path) const {
  std::lock_guard lock(mutex_);
  SizeCounter counter;
  encode(counter);
  std::vector<std::byte> bytes(counter.size());
  SpanWriter writer(bytes);
  encode(writer);

  auto tmp = path;
  tmp += ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    f.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
    f.flush();
    if (!f) {
      throw Error(fmt::format("could not write control store snapshot {}: {}", tmp.string(),
                              std::strerror(errno)));
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    throw Error(fmt::format("could not move control store snapshot {} to {}: {}", tmp.string(),
                            path.string(), ec.message()));
  }
}

bool ControlStore::load_snapshot(const std::filesystem::path& path) {
  std::lock_guard lock(mutex_);
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    if (!std::filesystem::exists(path)) return false;
    throw Error(fmt::format("could not open control store snapshot {}: {}", path.string(),
                            std::strerror(errno)));
  }
  std::vector<char> chars{std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
  if (f.bad()) {
    throw Error(fmt::format("could not read control store snapshot {}", path.string()));
  }
  ByteReader in(std::as_bytes(std::span<const char>(chars)));
  ControlStore restored;
  try {
    restored.decode(in);
  } catch (const DecodeError& e) {
    throw DecodeError(fmt::format("control store snapshot {}: {}", path.string(), e.what()));
  }
  restored.changes_ = changes_ + 1;
  *this = std::move(restored);
  return true;
}

}  // namespace weft::detail
