#include "server/preprocess_pool.h"

#include <algorithm>

namespace tern::server {

void PreprocessPool::Ticket::cancel() {
  flag_.cancel();
  pool_->drop(id_);
}

PreprocessPool::PreprocessPool(int num_threads, size_t max_queued) : max_queued_(max_queued) {
  for (int i = 0; i < num_threads; ++i) threads_.emplace_back([this] { worker_loop(); });
}

PreprocessPool::~PreprocessPool() { stop(); }

std::shared_ptr<PreprocessPool::Ticket> PreprocessPool::submit(Job job) {
  std::lock_guard lock(mutex_);
  if (stopping_ || queue_.size() >= max_queued_) return nullptr;
  std::shared_ptr<Ticket> ticket(new Ticket(this, next_id_++));
  queue_.push_back(Entry{ticket, std::move(job)});
  work_cv_.notify_one();
  return ticket;
}

size_t PreprocessPool::queued() const {
  std::lock_guard lock(mutex_);
  return queue_.size();
}

void PreprocessPool::drop(uint64_t id) {
  Entry dropped;  // destroyed after the lock is released: the job may hold a large body
  std::lock_guard lock(mutex_);
  const auto it = std::ranges::find_if(queue_, [id](const Entry& e) { return e.ticket->id_ == id; });
  if (it == queue_.end()) return;
  dropped = std::move(*it);
  queue_.erase(it);
}

void PreprocessPool::stop() {
  std::deque<Entry> dropped;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    dropped.swap(queue_);
  }
  work_cv_.notify_all();
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
}

void PreprocessPool::worker_loop() {
  while (true) {
    Entry entry;
    {
      std::unique_lock lock(mutex_);
      work_cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      entry = std::move(queue_.front());
      queue_.pop_front();
    }
    entry.job(entry.ticket->flag_);
  }
}

}  // namespace tern::server
