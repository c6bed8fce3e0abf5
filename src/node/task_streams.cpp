// detail::PeerLinks: task streams, the one-way connections that carry task
// specs and results beside each RPC connection (StreamFrame in weft.capnp).
#include <capnp/serialize-async.h>

#include <fmt/format.h>

#include "node/peer_links.hpp"
#include "node/wire.hpp"
#include "node/wire_error.hpp"
#include "weft/core/log.hpp"

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

void PeerLinks::on_stream(kj::Own<kj::AsyncIoStream> stream) {
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
            if (!verify_stream_hello(token_, h.getNodeId(),
                                     std::span(proof.begin(), proof.size()))) {
              return KJ_EXCEPTION(FAILED, "wrong cluster token");
            }
            raw->from = frame.getHello().getNodeId();
            if (owner_.declared_dead(raw->from)) {
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

kj::Promise<void> PeerLinks::read_frames(InboundFrames& in) {
  return capnp::tryReadMessage(*in.stream, reader_options())
      .then([this, &in](kj::Maybe<kj::Own<capnp::MessageReader>> maybe) -> kj::Promise<void> {
        KJ_IF_MAYBE (message, maybe) {
          auto frame = (*message)->getRoot<wire::StreamFrame>();
          switch (frame.which()) {
            case wire::StreamFrame::TASKS:
              owner_.tasks_arrived(frame.getTasks());
              break;
            case wire::StreamFrame::RESULTS:
              owner_.results_arrived(frame.getResults());
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

void PeerLinks::connect_frames(NodeId node, std::uint16_t stream_port) {
  auto it = links_.find(node);
  if (it == links_.end() || it->second->frames) return;
  const std::uint64_t gen = it->second->generation;
  tasks_->add(transport_.connect(it->second->host, stream_port)
                  .then([this, node, gen](kj::Own<kj::AsyncIoStream> stream) {
                    Link* live = live_link(node, gen);
                    if (live == nullptr || live->broken || live->frames) return;
                    Link& link = *live;
                    link.frames = kj::mv(stream);
                    auto hello = kj::heap<capnp::MallocMessageBuilder>();
                    auto h = hello->initRoot<wire::StreamFrame>().initHello();
                    const Proof proof = prove_stream_hello(token_, self_);
                    h.setTokenProof(kj::arrayPtr(proof.data(), proof.size()));
                    h.setNodeId(self_);
                    write_frame(link, kj::mv(hello));
                    watch_frames(link);
                    auto waiting = std::move(link.frames_waiting);
                    for (auto& frame : waiting) write_frame(link, kj::mv(frame));
                  })
                  .catch_([this, node, gen](kj::Exception&& e) { link_failed(node, gen, e); }));
}

void PeerLinks::watch_frames(Link& link) {
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

void PeerLinks::send_frame(NodeId node, kj::Own<capnp::MallocMessageBuilder> frame) {
  Link& link = link_to(node);
  if (link.broken) return;  // the node's death re-sends or fails what it held
  if (link.frames) {
    write_frame(link, kj::mv(frame));
  } else {
    link.frames_waiting.push_back(kj::mv(frame));
  }
}

void PeerLinks::write_frame(Link& link, kj::Own<capnp::MallocMessageBuilder> frame) {
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
