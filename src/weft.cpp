// Compiles every non-template body of weft exactly once (Asio's separate
// compilation model): the headers declare, these .ipp files define.
#include "weft/core/impl/pinned_executor.ipp"
#include "weft/core/impl/reactor.ipp"
#include "weft/core/impl/serial_executor.ipp"
#include "weft/core/impl/thread_pool.ipp"
#include "weft/object/impl/arena.ipp"
#include "weft/object/impl/object_store.ipp"
#include "weft/object/impl/type_fingerprint.ipp"
#include "weft/object/impl/wait.ipp"
