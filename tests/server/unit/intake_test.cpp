// The server's intake limits without a socket: the request-body byte budget and the
// bounded, cancellable preprocessing pool (battery G4 and G5 drive them over HTTP).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "server/body_budget.h"
#include "server/preprocess_pool.h"

namespace tern::server {
namespace {

TEST(BodyBudget, LeasesGrowWithinTheLimitAndGiveTheirBytesBack) {
  BodyBudget budget(100);
  BodyBudget::Lease a(budget);
  EXPECT_TRUE(a.grow_to(60));
  EXPECT_TRUE(a.grow_to(40));  // never shrinks
  EXPECT_EQ(a.bytes(), 60u);
  {
    BodyBudget::Lease b(budget);
    EXPECT_FALSE(b.grow_to(41));
    EXPECT_EQ(budget.held(), 60u);  // a refused grow takes nothing
    EXPECT_TRUE(b.grow_to(40));
    EXPECT_EQ(budget.held(), 100u);
    BodyBudget::Lease moved = std::move(b);
    EXPECT_EQ(budget.held(), 100u);
  }
  EXPECT_EQ(budget.held(), 60u);
  a.release();
  EXPECT_EQ(budget.held(), 0u);
  EXPECT_FALSE(BodyBudget::Lease().grow_to(1));  // a lease of no budget holds nothing
}

// A job that blocks until released, to hold the one thread.
struct Gate {
  std::mutex mutex;
  std::condition_variable cv;
  bool open = false;
  std::atomic<bool> entered{false};
  void wait() {
    entered = true;
    std::unique_lock lock(mutex);
    cv.wait(lock, [this] { return open; });
  }
  void release() {
    std::lock_guard lock(mutex);
    open = true;
    cv.notify_all();
  }
};

void wait_until(const std::function<bool()>& done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!done()) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline);
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

TEST(PreprocessPool, RefusesBeyondTheQueueAndDropsCancelledJobsBeforeTheyRun) {
  PreprocessPool pool(1, 2);
  Gate gate;
  std::atomic<int> ran{0};
  ASSERT_TRUE(pool.submit([&](const CancelFlag&) { gate.wait(); }));
  wait_until([&] { return gate.entered.load(); });
  auto first = pool.submit([&](const CancelFlag&) { ++ran; });
  auto second = pool.submit([&](const CancelFlag&) { ++ran; });
  ASSERT_TRUE(first && second);
  EXPECT_EQ(pool.queued(), 2u);
  EXPECT_EQ(pool.submit([&](const CancelFlag&) { ++ran; }), nullptr);  // full
  first->cancel();
  EXPECT_EQ(pool.queued(), 1u);
  EXPECT_TRUE(pool.submit([&](const CancelFlag&) { ++ran; }));  // room again
  gate.release();
  wait_until([&] { return ran == 2; });
  first->cancel();  // after the fact: harmless
}

TEST(PreprocessPool, ARunningJobSeesItsFlag) {
  PreprocessPool pool(1, 4);
  std::atomic<bool> started{false}, saw_cancel{false};
  auto ticket = pool.submit([&](const CancelFlag& cancel) {
    started = true;
    while (!cancel.cancelled()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    saw_cancel = true;
  });
  wait_until([&] { return started.load(); });
  ticket->cancel();
  wait_until([&] { return saw_cancel.load(); });
}

TEST(PreprocessPool, StopDropsQueuedJobsAndRefusesNewOnes) {
  std::atomic<int> ran{0};
  auto pool = std::make_unique<PreprocessPool>(1, 4);
  Gate gate;
  pool->submit([&](const CancelFlag&) { gate.wait(); });
  wait_until([&] { return gate.entered.load(); });
  pool->submit([&](const CancelFlag&) { ++ran; });
  std::thread stopper([&] { pool->stop(); });
  wait_until([&] { return pool->queued() == 0; });
  EXPECT_EQ(pool->submit([&](const CancelFlag&) { ++ran; }), nullptr);
  gate.release();
  stopper.join();
  EXPECT_EQ(ran, 0);
}

}  // namespace
}  // namespace tern::server
