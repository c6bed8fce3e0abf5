// detail::Cluster: task streams, the one-way connections that carry task
// specs and results beside each RPC connection (StreamFrame in weft.capnp).
#include <capnp/serialize-async.h>

#include <fmt/format.h>

#include "node/cluster.hpp"
#include "node/wire.hpp"

namespace weft::detail {

namespace {
// A hello is a token and an id; frames get the limit of any message
// (reader_options), as big as the RPC messages they replaced.
capnp::ReaderOptions hello_options() {
  capnp::ReaderOptions o;
  o.traversalLimitInWords = 1024;
  return o;
}
}  // namespace

// --- receiving ----------------------------------------------------------------------

void Cluster::on_stream(kj::Own<kj::AsyncIoStream> stream) {
  auto in = std::make_unique<InboundFrames>();
  in->stream = kj::mv(stream);
  InboundFrames* raw = in.get();
  raw->reading =
      capnp::readMessage(*raw->stream, hello_options())
          .then([this, raw](kj::Own<capnp::MessageReader> message) -> kj::Promise<void> {
            auto frame = message->getRoot<wire::StreamFrame>();
            if (!frame.isHello()) {
              return KJ_EXCEPTION(FAILED, "the stream did not begin with a hello");
            }
            const auto h = frame.getHello();
            const auto proof = h.getTokenProof();
            if (!verify_stream_hello(options_.token, h.getNodeId(),
                                     std::span(proof.begin(), proof.size()))) {
              return KJ_EXCEPTION(FAILED, "wrong cluster token");
            }
            raw->from = frame.getHello().getNodeId();
            if (declared_dead(raw->from)) {
              return KJ_EXCEPTION(FAILED, fmt::format("node {:x} was declared dead by the head; "
                                                      "it must rejoin as a new node",
                                                      raw->from));
            }
            return read_frames(*raw);
          })
          .catch_([](kj::Exception&& e) {
            // A peer that went away is not news (link_failed reports node losses).
            if (e.getType() == kj::Exception::Type::DISCONNECTED) return;
            log(LogLevel::warn, "dropped a task stream: {}", describe(e));
          })
          .then([this, raw] {
            // Not from inside its own promise: erase it on a later turn.
            tasks_->add(kj::evalLater([this, raw] {
              std::erase_if(inbound_frames_, [raw](const auto& p) { return p.get() == raw; });
            }));
          })
          .eagerlyEvaluate(nullptr);
  inbound_frames_.push_back(std::move(in));
}

kj::Promise<void> Cluster::read_frames(InboundFrames& in) {
  return capnp::tryReadMessage(*in.stream, reader_options())
      .then([this, &in](kj::Maybe<kj::Own<capnp::MessageReader>> maybe) -> kj::Promise<void> {
        KJ_IF_MAYBE (message, maybe) {
          auto frame = (*message)->getRoot<wire::StreamFrame>();
          switch (frame.which()) {
            case wire::StreamFrame::TASKS:
              receive_tasks(frame.getTasks());
              break;
            case wire::StreamFrame::RESULTS:
              receive_results(frame.getResults());
              break;
            default:
              return KJ_EXCEPTION(FAILED, "a frame of unknown kind");
          }
          return read_frames(in);
        }
        return kj::READY_NOW;  // the peer closed its end
      });
}

// --- sending ------------------------------------------------------------------------

void Cluster::connect_frames(NodeId node, std::uint16_t stream_port) {
  auto it = links_.find(node);
  if (it == links_.end() || it->second->frames) return;
  const std::uint64_t gen = it->second->generation;
  tasks_->add(transport_.connect(it->second->host, stream_port)
                  .then([this, node, gen](kj::Own<kj::AsyncIoStream> stream) {
                    PeerLink* live = live_link(node, gen);
                    if (live == nullptr || live->broken || live->frames) return;
                    PeerLink& link = *live;
                    link.frames = kj::mv(stream);
                    auto hello = kj::heap<capnp::MallocMessageBuilder>();
                    auto h = hello->initRoot<wire::StreamFrame>().initHello();
                    const Proof proof = prove_stream_hello(options_.token, node_.node_id());
                    h.setTokenProof(kj::arrayPtr(proof.data(), proof.size()));
                    h.setNodeId(node_.node_id());
                    write_frame(link, kj::mv(hello));
                    watch_frames(link);
                    auto waiting = std::move(link.frames_waiting);
                    for (auto& frame : waiting) write_frame(link, kj::mv(frame));
                  })
                  .catch_([this, node, gen](kj::Exception&& e) { link_failed(node, gen, e); }));
}

void Cluster::watch_frames(PeerLink& link) {
  auto byte = kj::heapArray<kj::byte>(1);
  kj::byte* into = byte.begin();
  link.frames_watch = link.frames->tryRead(into, 1, 1)
                          .attach(kj::mv(byte))
                          .then([](std::size_t) -> kj::Promise<void> {
                            return KJ_EXCEPTION(DISCONNECTED, "the node closed its task stream");
                          })
                          .eagerlyEvaluate([this, node = link.id, gen = link.generation](
                                               kj::Exception&& e) { link_failed(node, gen, e); });
}

void Cluster::send_frame(NodeId node, kj::Own<capnp::MallocMessageBuilder> frame) {
  PeerLink& link = link_to(node);
  if (link.broken) return;  // the node's death re-sends or fails what it held
  if (link.frames) {
    write_frame(link, kj::mv(frame));
  } else {
    link.frames_waiting.push_back(kj::mv(frame));
  }
}

void Cluster::write_frame(PeerLink& link, kj::Own<capnp::MallocMessageBuilder> frame) {
  kj::AsyncIoStream& stream = *link.frames;
  const NodeId node = link.id;
  const std::uint64_t gen = link.generation;
  link.frame_writes =
      link.frame_writes
          .then([&stream, frame = kj::mv(frame)]() mutable {
            auto written = capnp::writeMessage(stream, *frame);
            return written.attach(kj::mv(frame));
          })
          .eagerlyEvaluate([this, node, gen](kj::Exception&& e) { link_failed(node, gen, e); });
}

}  // namespace weft::detail
