#include "engine/token_mask_worker.h"

#include <chrono>
#include <exception>
#include <utility>

namespace tern {

TokenMaskWorker::TokenMaskWorker() : thread_([this] { loop(); }) {}

TokenMaskWorker::~TokenMaskWorker() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  changed_.notify_all();
  thread_.join();
}

void TokenMaskWorker::start(std::vector<Job> jobs, int32_t words_per_row) {
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [&] { return !pending_; });
  jobs_ = std::move(jobs);
  words_per_row_ = words_per_row;
  words_.resize(jobs_.size() * size_t(words_per_row));
  pending_ = true;
  lock.unlock();
  changed_.notify_all();
}

TokenMaskRows TokenMaskWorker::wait() {
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [&] { return !pending_; });
  if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
  return {words_, words_per_row_};
}

void TokenMaskWorker::loop() {
  std::unique_lock lock(mutex_);
  while (true) {
    changed_.wait(lock, [&] { return stop_ || pending_; });
    if (stop_) return;
    lock.unlock();  // the job's buffers are the worker's alone until pending_ clears
    std::exception_ptr error;
    row_micros_.clear();
    try {
      for (size_t i = 0; i < jobs_.size(); ++i) {
        const auto start = std::chrono::steady_clock::now();
        const Job& job = jobs_[i];
        const std::span<uint32_t> row(words_.data() + i * size_t(words_per_row_), size_t(words_per_row_));
        job.matcher->fill_mask(row);
        if (job.may_end && job.matcher->can_end()) {
          for (int32_t id : job.end_token_ids)
            if (id >= 0 && size_t(id) < row.size() * 32) row[size_t(id) >> 5] |= 1u << (id & 31);
        }
        row_micros_.push_back(
            std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count());
      }
    } catch (...) {
      error = std::current_exception();  // handed to wait(): the step fails like any model failure
    }
    lock.lock();
    error_ = error;
    pending_ = false;
    changed_.notify_all();
  }
}

}  // namespace tern
