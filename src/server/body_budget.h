// The bytes of request bodies the server holds at once, across all connections: bodies
// being received and bodies waiting for or in preprocessing. Each request takes a Lease
// that grows with its body (to its Content-Length at once, or chunk by chunk) and gives
// its bytes back when destroyed, once preprocessing is done with them. A request that
// would take the total past the limit is refused with 503 before more of it is read, so
// forty clients sending 8 MB bodies at once cannot make the server hold 320 MB of them.
#pragma once

#include <atomic>
#include <cstddef>

namespace tern::server {

class BodyBudget {
 public:
  explicit BodyBudget(size_t max_bytes) : max_bytes_(max_bytes) {}
  BodyBudget(const BodyBudget&) = delete;
  BodyBudget& operator=(const BodyBudget&) = delete;

  class Lease {
   public:
    Lease() = default;
    explicit Lease(BodyBudget& budget) : budget_(&budget) {}
    Lease(Lease&& other) noexcept : budget_(other.budget_), bytes_(other.bytes_) { other.bytes_ = 0; }
    Lease& operator=(Lease&& other) noexcept;
    ~Lease() { release(); }

    // Takes the bytes between bytes() and `bytes` from the budget; false (and nothing
    // taken) when that would pass its limit. Never shrinks.
    bool grow_to(size_t bytes);
    size_t bytes() const { return bytes_; }
    void release();

   private:
    BodyBudget* budget_ = nullptr;
    size_t bytes_ = 0;
  };

  size_t max_bytes() const { return max_bytes_; }
  size_t held() const { return held_.load(std::memory_order_relaxed); }

 private:
  const size_t max_bytes_;
  std::atomic<size_t> held_{0};
};

}  // namespace tern::server
