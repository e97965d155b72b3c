#include "engine/request_stream.h"

namespace tern {

void RequestStream::push(RequestOutput output) {
  std::function<void()> notify;
  {
    std::lock_guard lock(mutex_);
    queue_.push_back(std::move(output));
    notify = notify_;
  }
  ready_.notify_one();
  if (notify) notify();
}

std::optional<RequestOutput> RequestStream::pop_locked() {
  if (queue_.empty()) return std::nullopt;
  RequestOutput output = std::move(queue_.front());
  queue_.pop_front();
  if (output.finished) finished_taken_ = true;
  return output;
}

std::optional<RequestOutput> RequestStream::next() {
  std::unique_lock lock(mutex_);
  ready_.wait(lock, [&] { return !queue_.empty() || finished_taken_; });
  return pop_locked();
}

std::optional<RequestOutput> RequestStream::try_next() {
  std::lock_guard lock(mutex_);
  return pop_locked();
}

void RequestStream::set_notifier(std::function<void()> notify) {
  bool pending = false;
  {
    std::lock_guard lock(mutex_);
    notify_ = notify;
    pending = !queue_.empty();
  }
  if (pending && notify) notify();
}

}  // namespace tern
