// Randomized scheduler runs: arrivals, prompt lengths with shared prefixes, priorities,
// n > 1 (forks sharing partial blocks, copy-on-write), aborts, stop strings, numerical
// errors, and a KV pool small enough to force preemption, in every scheduler mode and KV
// layout. After every step the KV invariants and the step limits are checked, and a
// simulated KV cache (token and position per slot) runs the step's copies and writes: every
// scheduled sequence must read back exactly its own tokens through its block table. At the
// end every request has finished and every block is free. Also: scheduling a full batch of
// decodes stays far under a millisecond.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <vector>

#include "engine/request_rejected.h"
#include "engine/scheduler.h"
#include "scheduler_setup.h"

namespace tern {
namespace {

using testing::SchedulerSetup;

constexpr int32_t kEos = 0;

class StressRun {
 public:
  StressRun(const SchedulerSetup& config, uint32_t seed)
      : scheduler_(config, config), rng_(seed), slots_(static_cast<size_t>(config.num_kv_blocks) * config.block_size) {
    for (int i = 0; i < 4; ++i) prefixes_.push_back(random_tokens(static_cast<int32_t>(rng_() % 40)));
  }

  // Steps with random arrivals for `num_arrival_steps`, then until everything finished.
  void run(int num_arrival_steps) {
    for (int step = 0; step < num_arrival_steps; ++step) {
      if (rng_() % 3 == 0) add_random_request();
      if (rng_() % 25 == 0) abort_random_request();
      step_once();
    }
    for (int step = 0; scheduler_.has_unfinished(); ++step) {
      ASSERT_LT(step, 20000) << "no progress";
      step_once();
      if (::testing::Test::HasFailure()) return;
    }
    for (const auto& r : requests_) EXPECT_TRUE(r->finished()) << "request " << r->request_id;
    EXPECT_EQ(scheduler_.kv().pool().num_used_blocks(), 0);
    EXPECT_EQ(scheduler_.kv().num_tables(), 0u);
    EXPECT_GT(num_added_, 0);
  }

  int64_t num_preemptions() const { return scheduler_.num_preemptions(); }
  int64_t num_block_copies() const { return num_block_copies_; }

 private:
  std::vector<int32_t> random_tokens(int32_t n) {
    std::vector<int32_t> ids(static_cast<size_t>(n));
    for (int32_t& id : ids) id = 1 + static_cast<int32_t>(rng_() % 50);
    return ids;
  }

  void add_random_request() {
    std::vector<int32_t> prompt = prefixes_[rng_() % prefixes_.size()];
    const std::vector<int32_t> tail = random_tokens(1 + static_cast<int32_t>(rng_() % 60));
    prompt.insert(prompt.end(), tail.begin(), tail.end());
    SamplingParams p;
    p.max_tokens = 1 + static_cast<int32_t>(rng_() % 30);
    p.min_tokens = static_cast<int32_t>(rng_() % 3) % (p.max_tokens + 1);
    p.n = rng_() % 3 == 0 ? 2 + static_cast<int32_t>(rng_() % 3) : 1;
    p.seed = rng_();
    if (rng_() % 3 == 0) p.stop_token_ids = {static_cast<int32_t>(1 + rng_() % 50)};
    try {
      scheduler_.check_admissible(static_cast<int32_t>(prompt.size()), p);
    } catch (const RequestRejected&) {
      return;
    }
    auto request = Request::create(next_id_++, std::move(prompt), std::move(p), static_cast<int32_t>(rng_() % 3),
                                   scheduler_.config().eos_token_ids);
    scheduler_.add_request(*request);
    requests_.push_back(std::move(request));
    ++num_added_;
  }

  void abort_random_request() {
    if (requests_.empty()) return;
    Request& r = *requests_[rng_() % requests_.size()];
    if (!r.finished()) scheduler_.abort_request(r);
  }

  void step_once() {
    const SchedulerOutput& out = scheduler_.schedule();
    check_output(out);
    if (::testing::Test::HasFatalFailure()) return;
    run_on_simulated_cache(out);
    std::vector<SampledToken> sampled;
    for (const ScheduledSequence& s : out.seqs) {
      if (!s.sample) continue;
      SampledToken t;
      t.seq_id = s.seq->seq_id;
      if (rng_() % 400 == 0) {
        t.numerical_error = true;
      } else {
        t.token_id = rng_() % 40 == 0 ? kEos : static_cast<int32_t>(1 + rng_() % 50);
      }
      sampled.push_back(t);
    }
    // The engine finds a stop string in some sequences' text.
    scheduler_.update_from_output(out, sampled, [&](const Sequence&, const SampledToken&) { return rng_() % 50 == 0; });
    check_state();
  }

  void check_output(const SchedulerOutput& out) {
    const EngineSizes& c = scheduler_.sizes();
    int32_t total = 0;
    std::set<const Sequence*> seen;
    for (const ScheduledSequence& s : out.seqs) {
      ASSERT_TRUE(seen.insert(s.seq).second) << "sequence scheduled twice";
      ASSERT_EQ(s.seq->status, SequenceStatus::kRunning);
      ASSERT_GE(s.num_new_tokens, 1);
      ASSERT_EQ(s.num_computed_tokens, s.seq->num_computed_tokens);
      ASSERT_LE(s.num_computed_tokens + s.num_new_tokens, s.seq->num_tokens());
      ASSERT_EQ(s.sample, s.num_computed_tokens + s.num_new_tokens == s.seq->num_tokens());
      ASSERT_GE(static_cast<int32_t>(s.block_table.size()) * c.block_size, s.num_computed_tokens + s.num_new_tokens);
      total += s.num_new_tokens;
    }
    ASSERT_EQ(total, out.num_batched_tokens);
    ASSERT_LE(total, c.max_num_batched_tokens) << "token budget";
    ASSERT_LE(scheduler_.num_running_seqs(), c.max_num_seqs) << "max_num_seqs";

    // Every block a step writes belongs to its writer alone and is outside the prefix
    // cache: a shared (ref count > 1) or cached block is never a write target.
    const BlockPool& pool = scheduler_.kv().pool();
    std::map<int32_t, const Sequence*> written;
    for (const ScheduledSequence& s : out.seqs) {
      const int32_t first = s.num_computed_tokens / c.block_size;
      const int32_t last = (s.num_computed_tokens + s.num_new_tokens - 1) / c.block_size;
      for (int32_t i = first; i <= last; ++i) {
        const int32_t b = s.block_table[static_cast<size_t>(i)];
        ASSERT_EQ(pool.ref_count(b), 1) << "block " << b << " is written while shared";
        ASSERT_FALSE(pool.is_cached(b)) << "block " << b << " is written while in the prefix cache";
        ASSERT_TRUE(written.emplace(b, s.seq).second) << "block " << b << " written by two sequences";
      }
    }
    // Copies: each lands in a block its sequence writes this step, at most one per
    // sequence (the runner sizes its buffer for that), none reads a block another writes.
    std::set<const Sequence*> copied_into;
    std::set<int32_t> sources;
    for (const BlockCopy& copy : out.block_copies) sources.insert(copy.src);
    for (const BlockCopy& copy : out.block_copies) {
      const auto it = written.find(copy.dst);
      ASSERT_NE(it, written.end()) << "copy into block " << copy.dst << ", which no sequence writes this step";
      ASSERT_TRUE(copied_into.insert(it->second).second) << "two copies for one sequence";
      ASSERT_FALSE(sources.contains(copy.dst)) << "block " << copy.dst << " is copied to and from";
      ASSERT_NE(copy.src, copy.dst);
    }
    num_block_copies_ += static_cast<int64_t>(out.block_copies.size());
  }

  // What the model side does with the step on a cache of (token, position) slots: the
  // copies first, then the new tokens' KV; then every scheduled sequence reads its whole
  // context back through its block table.
  void run_on_simulated_cache(const SchedulerOutput& out) {
    const int32_t bs = scheduler_.sizes().block_size;
    for (const BlockCopy& copy : out.block_copies) {
      std::copy_n(slots_.begin() + static_cast<ptrdiff_t>(copy.src) * bs, bs,
                  slots_.begin() + static_cast<ptrdiff_t>(copy.dst) * bs);
    }
    const auto slot = [&](const ScheduledSequence& s, int32_t pos) -> Slot& {
      return slots_[static_cast<size_t>(s.block_table[static_cast<size_t>(pos / bs)]) * bs + pos % bs];
    };
    for (const ScheduledSequence& s : out.seqs) {
      for (int32_t pos = s.num_computed_tokens; pos < s.num_computed_tokens + s.num_new_tokens; ++pos) {
        slot(s, pos) = {s.seq->token_ids[static_cast<size_t>(pos)], pos};
      }
    }
    for (const ScheduledSequence& s : out.seqs) {
      for (int32_t pos = 0; pos < s.num_computed_tokens + s.num_new_tokens; ++pos) {
        const Slot& got = slot(s, pos);
        ASSERT_TRUE(got.position == pos && got.token == s.seq->token_ids[static_cast<size_t>(pos)])
            << "sequence " << s.seq->seq_id << " reads token " << got.token << " of position " << got.position
            << " at position " << pos << ", expected token " << s.seq->token_ids[static_cast<size_t>(pos)];
      }
    }
  }

  void check_state() {
    const KvCacheManager& kv = scheduler_.kv();
    const BlockPool& pool = kv.pool();
    const int32_t bs = scheduler_.sizes().block_size;
    std::map<int32_t, int32_t> holders;
    int32_t num_running = 0, num_waiting = 0;
    for (const auto& r : requests_) {
      int32_t unfinished = 0;
      for (const auto& seq : r->seqs) {
        const auto table = kv.block_table(seq->seq_id);
        switch (seq->status) {
          case SequenceStatus::kRunning:
            ++num_running;
            ++unfinished;
            ASSERT_LT(seq->num_computed_tokens, seq->num_tokens()) << "a running sequence always has a token left";
            ASSERT_GE(static_cast<int32_t>(table.size()) * bs, seq->num_computed_tokens);
            for (int32_t b : table) ++holders[b];
            break;
          case SequenceStatus::kWaiting:
            ++num_waiting;
            ++unfinished;
            ASSERT_TRUE(table.empty()) << "a waiting sequence holds no blocks";
            ASSERT_EQ(seq->num_computed_tokens, 0);
            break;
          case SequenceStatus::kFinished:
            ASSERT_TRUE(table.empty()) << "a finished sequence holds no blocks";
            break;
        }
      }
      ASSERT_EQ(unfinished, r->num_unfinished_seqs);
    }
    ASSERT_EQ(num_running, scheduler_.num_running_seqs());
    ASSERT_EQ(num_waiting, scheduler_.num_waiting_seqs());
    ASSERT_EQ(kv.num_tables(), static_cast<size_t>(num_running));

    // Ref counts equal the number of tables holding each block; free + used = total.
    const std::vector<int32_t> free_ids = pool.free_block_ids();
    const std::set<int32_t> free_set(free_ids.begin(), free_ids.end());
    ASSERT_EQ(free_set.size(), free_ids.size()) << "a block is on the free list twice";
    ASSERT_EQ(static_cast<int32_t>(free_ids.size()), pool.num_free_blocks());
    ASSERT_EQ(pool.num_free_blocks() + pool.num_used_blocks(), pool.num_blocks());
    for (int32_t b = 0; b < pool.num_blocks(); ++b) {
      const auto it = holders.find(b);
      const int32_t expected = it == holders.end() ? 0 : it->second;
      ASSERT_EQ(pool.ref_count(b), expected) << "block " << b;
      ASSERT_EQ(free_set.contains(b), expected == 0) << "block " << b;
    }
    // A shared block holds computed KV of every holder (a fork shares the blocks holding
    // the tokens it starts from, the last one possibly partial; a prefix hit whole blocks).
    for (const auto& r : requests_) {
      for (const auto& seq : r->seqs) {
        const auto table = kv.block_table(seq->seq_id);
        for (size_t i = 0; i < table.size(); ++i) {
          if (holders[table[i]] > 1) {
            ASSERT_LT(static_cast<int32_t>(i) * bs, seq->num_computed_tokens) << "shared block " << table[i];
          }
        }
      }
    }
  }

  Scheduler scheduler_;
  std::mt19937 rng_;
  std::vector<std::vector<int32_t>> prefixes_;
  std::vector<std::unique_ptr<Request>> requests_;
  uint64_t next_id_ = 1;
  int num_added_ = 0;
  struct Slot {
    int32_t token = -1;
    int32_t position = -1;
  };
  std::vector<Slot> slots_;
  int64_t num_block_copies_ = 0;
};

TEST(SchedulerStress, InvariantsHoldAfterEveryStepInEveryMode) {
  int64_t preemptions = 0, copies = 0;
  for (uint32_t seed = 1; seed <= 24; ++seed) {
    std::mt19937 pick(seed);
    SchedulerSetup config;
    config.block_size = pick() % 2 ? 4 : 16;
    config.max_model_len = 256;
    config.max_num_batched_tokens = static_cast<int32_t>(8 + pick() % 64);
    config.max_num_seqs = static_cast<int32_t>(4 + pick() % 12);
    config.prefix_caching = pick() % 4 == 0 ? PrefixCaching::kDisabled : PrefixCaching::kEnabled;
    config.scheduler = seed % 3 == 0 ? SchedulerMode::kStatic : SchedulerMode::kContinuous;
    config.kv_layout = seed % 4 == 0 ? KvLayout::kContiguous : KvLayout::kPaged;
    config.eos_token_ids = {kEos};
    // Room for about two of the longest requests (40 + 60 prompt + 30 output tokens).
    config.num_kv_blocks = 2 * ((130 + config.block_size - 1) / config.block_size);
    SCOPED_TRACE(::testing::Message() << "seed " << seed << ", block_size " << config.block_size << ", budget "
                                      << config.max_num_batched_tokens << ", max_num_seqs " << config.max_num_seqs);
    StressRun run(config, seed);
    run.run(400);
    if (HasFatalFailure()) return;
    preemptions += run.num_preemptions();
    copies += run.num_block_copies();
  }
  EXPECT_GT(preemptions, 0) << "the KV budget is meant to force preemption";
  EXPECT_GT(copies, 0) << "forks are meant to share partial blocks and copy them";
}

TEST(SchedulerStress, SchedulingAFullBatchOfDecodesTakesWellUnderAMillisecond) {
  Scheduler scheduler(EngineSizes{.num_kv_blocks = 8192, .max_model_len = 4096, .max_num_seqs = 256}, EngineConfig{});
  std::vector<std::unique_ptr<Request>> requests;
  for (uint64_t i = 0; i < 256; ++i) {
    SamplingParams p;
    p.max_tokens = 1000;
    p.seed = i;
    requests.push_back(Request::create(i + 1, std::vector<int32_t>(100 + i, 7), p, 0, {}));
    scheduler.add_request(*requests.back());
  }
  std::vector<SampledToken> sampled;
  const auto step = [&] {
    const SchedulerOutput& out = scheduler.schedule();
    sampled.clear();
    for (const ScheduledSequence& s : out.seqs) {
      if (!s.sample) continue;
      SampledToken t;
      t.seq_id = s.seq->seq_id;
      t.token_id = 5;
      sampled.push_back(t);
    }
    scheduler.update_from_output(out, sampled);
    return out.seqs.size();
  };
  while (scheduler.num_running_seqs() < 256 || scheduler.num_waiting_seqs() > 0) step();
  for (int i = 0; i < 20; ++i) step();  // every prompt done: pure decode steps

  constexpr int kSteps = 200;
  const auto start = std::chrono::steady_clock::now();
  size_t scheduled = 0;
  for (int i = 0; i < kSteps; ++i) scheduled += step();
  const double us_per_step =
      std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count() / kSteps;
  EXPECT_EQ(scheduled, 256u * kSteps);
  RecordProperty("us_per_step", static_cast<int>(us_per_step));
  std::printf("schedule + update of 256 decodes: %.1f us per step\n", us_per_step);
  EXPECT_LT(us_per_step, 1000.0);
}

}  // namespace
}  // namespace tern
