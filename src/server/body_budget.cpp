#include "server/body_budget.h"

namespace tern::server {

BodyBudget::Lease& BodyBudget::Lease::operator=(Lease&& other) noexcept {
  if (this != &other) {
    release();
    budget_ = other.budget_;
    bytes_ = other.bytes_;
    other.bytes_ = 0;
  }
  return *this;
}

bool BodyBudget::Lease::grow_to(size_t bytes) {
  if (bytes <= bytes_) return true;
  if (!budget_) return false;
  const size_t more = bytes - bytes_;
  size_t held = budget_->held_.load(std::memory_order_relaxed);
  do {
    if (more > budget_->max_bytes_ - held) return false;  // held <= max_bytes_ always
  } while (!budget_->held_.compare_exchange_weak(held, held + more, std::memory_order_relaxed));
  bytes_ = bytes;
  return true;
}

void BodyBudget::Lease::release() {
  if (budget_ && bytes_ > 0) budget_->held_.fetch_sub(bytes_, std::memory_order_relaxed);
  bytes_ = 0;
}

}  // namespace tern::server
