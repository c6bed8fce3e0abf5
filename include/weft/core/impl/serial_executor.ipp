// SerialExecutor bodies; compiled once into libweft.
#include "weft/core/serial_executor.hpp"

namespace weft {

void SerialExecutor::post(Job job) noexcept {
  lock_.lock();
  queue_.push_back(job);
  const bool start = !scheduled_;
  scheduled_ = true;
  lock_.unlock();
  if (start) underlying_.post(Job{&SerialExecutor::drain_job, this});
}

void SerialExecutor::drain_job(void* self) noexcept { static_cast<SerialExecutor*>(self)->drain(); }

void SerialExecutor::drain() noexcept {
  detail::CurrentExecutorScope scope(this);
  for (unsigned n = 0; n < batch_; ++n) {
    lock_.lock();
    Job j = queue_.pop_front();
    if (!j) {
      scheduled_ = false;
      lock_.unlock();
      return;
    }
    lock_.unlock();
    j();
  }
  // Still busy: requeue behind others; scheduled_ stays true.
  underlying_.post(Job{&SerialExecutor::drain_job, this});
}

}  // namespace weft
