// Scheduler: table-driven step scripts (which sequences get how many tokens each step),
// then admission, stop conditions, aborts, numerical errors and the baseline modes.
// Tokens are faked: a sampled token is a function of the sequence's tokens.
#include "engine/scheduler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include "engine/request_rejected.h"
#include "scheduler_setup.h"

namespace tern {
namespace {

using testing::SchedulerSetup;

constexpr int32_t kEos = 2;

SchedulerSetup small_config() {
  SchedulerSetup setup;
  setup.block_size = 4;
  setup.num_kv_blocks = 64;
  setup.max_model_len = 256;
  setup.max_num_batched_tokens = 64;
  setup.max_num_seqs = 8;
  setup.eos_token_ids = {kEos};
  return setup;
}

SamplingParams params(int32_t max_tokens, int32_t n = 1) {
  SamplingParams p;
  p.max_tokens = max_tokens;
  p.n = n;
  p.seed = 1;
  return p;
}

std::vector<int32_t> tokens_from(int32_t first, int32_t n) {
  std::vector<int32_t> ids(static_cast<size_t>(n));
  std::iota(ids.begin(), ids.end(), first);
  return ids;
}

SampledToken token(uint64_t seq_id, int32_t id) {
  SampledToken t;
  t.seq_id = seq_id;
  t.token_id = id;
  return t;
}

SampledToken nan_token(uint64_t seq_id) {
  SampledToken t;
  t.seq_id = seq_id;
  t.numerical_error = true;
  return t;
}

// Drives a Scheduler the way the engine does, with named requests and a fake model.
class Harness {
 public:
  explicit Harness(const SchedulerSetup& setup) : scheduler(setup, setup) {}

  Request& add(const std::string& name, std::vector<int32_t> prompt, SamplingParams p, int32_t priority = 0) {
    auto request =
        Request::create(next_id_++, std::move(prompt), std::move(p), priority, scheduler.config().eos_token_ids);
    Request& r = *request;
    names_[&r] = name;
    requests_[name] = std::move(request);
    scheduler.add_request(r);
    return r;
  }
  Request& add(const std::string& name, int32_t prompt_len, SamplingParams p, int32_t priority = 0) {
    // Distinct tokens per request, so nothing is shared by accident.
    return add(name, tokens_from(1000 * next_id_, prompt_len), std::move(p), priority);
  }
  Request& operator[](const std::string& name) { return *requests_.at(name); }

  // One step; returns "A:8 B:1 -C cow:A.1": tokens scheduled per sequence in batch order
  // (A.1 is A's second completion), then the sequences preempted in it, then one "cow:X"
  // per block copied (copy-on-write) into sequence X's table.
  std::string step() {
    const SchedulerOutput& out = scheduler.schedule();
    std::string text;
    std::vector<SampledToken> sampled;
    for (const ScheduledSequence& s : out.seqs) {
      text += (text.empty() ? "" : " ") + label(*s.seq) + ":" + std::to_string(s.num_new_tokens);
      EXPECT_GE(static_cast<int32_t>(s.block_table.size()) * scheduler.sizes().block_size,
                s.num_computed_tokens + s.num_new_tokens);
      if (s.sample) sampled.push_back(token(s.seq->seq_id, next_token(*s.seq)));
    }
    for (uint64_t id : out.preempted_seq_ids) text += (text.empty() ? "-" : " -") + label(find(id));
    for (const BlockCopy& c : out.block_copies) text += (text.empty() ? "cow:" : " cow:") + label(holder(out, c.dst));
    scheduler.update_from_output(out, sampled, stop_string);
    return text;
  }

  // A token that depends only on the sequence's tokens, never the eos id unless forced.
  std::function<int32_t(const Sequence&)> next_token = [](const Sequence& seq) {
    return 10 + std::accumulate(seq.token_ids.begin(), seq.token_ids.end(), 0) % 89;
  };
  // The engine's stop strings: none unless a test sets it.
  Scheduler::StopStringCheck stop_string;
  Scheduler scheduler;

 private:
  std::string label(const Sequence& seq) {
    const std::string& name = names_.at(seq.request);
    return seq.index == 0 ? name : name + "." + std::to_string(seq.index);
  }
  // The scheduled sequence whose table holds a copy's destination.
  static const Sequence& holder(const SchedulerOutput& out, int32_t block_id) {
    for (const ScheduledSequence& s : out.seqs) {
      if (std::ranges::find(s.block_table, block_id) != s.block_table.end()) return *s.seq;
    }
    throw std::runtime_error("no scheduled sequence holds block " + std::to_string(block_id));
  }
  Sequence& find(uint64_t seq_id) {
    for (auto& [name, request] : requests_) {
      for (auto& seq : request->seqs) {
        if (seq->seq_id == seq_id) return *seq;
      }
    }
    throw std::runtime_error("no sequence " + std::to_string(seq_id));
  }

  uint64_t next_id_ = 1;
  std::map<std::string, std::unique_ptr<Request>> requests_;
  std::map<const Request*, std::string> names_;
};

struct Arrival {
  int step;
  std::string name;
  int32_t prompt_len;
  int32_t max_tokens;
  int32_t priority = 0;
  int32_t n = 1;
  std::vector<int32_t> prompt = {};  // when given, used instead of prompt_len distinct tokens
};

struct StepScript {
  std::string name;
  SchedulerSetup config;
  std::vector<Arrival> arrivals;
  std::vector<std::string> expected;  // per step
};

SchedulerSetup with(SchedulerSetup c, auto&& change) {
  change(c);
  return c;
}

const std::vector<StepScript>& scripts() {
  static const std::vector<StepScript> all = {
      {"a long prompt is split into chunks of the token budget",
       with(small_config(), [](SchedulerSetup& c) { c.max_num_batched_tokens = 8; }),
       {{0, "A", 20, 2}},
       {"A:8", "A:8", "A:4", "A:1", ""}},
      {"running decodes go first, a new prompt fills the rest of the budget",
       with(small_config(), [](SchedulerSetup& c) { c.max_num_batched_tokens = 8; }),
       {{0, "A", 4, 5}, {1, "B", 20, 1}},
       {"A:4", "A:1 B:7", "A:1 B:7", "A:1 B:6", "A:1", ""}},
      {"first come first served within max_num_seqs",
       with(small_config(), [](SchedulerSetup& c) { c.max_num_seqs = 2; }),
       {{0, "A", 4, 2}, {0, "B", 4, 2}, {0, "C", 4, 2}},
       {"A:4 B:4", "A:1 B:1", "C:4", "C:1", ""}},
      {"a lower priority value is served first",
       with(small_config(), [](SchedulerSetup& c) { c.max_num_seqs = 1; }),
       {{0, "A", 4, 1, /*priority=*/5}, {0, "B", 4, 1, /*priority=*/0}},
       {"B:4", "A:4", ""}},
      {"out of blocks, the latest arrival is preempted and later recomputes prompt and output",
       with(small_config(), [](SchedulerSetup& c) { c.num_kv_blocks = 4; }),
       {{0, "A", 6, 6}, {0, "B", 6, 6}},
       // A's 9th token needs a third block. B's freed first block stays cached (A reused
       // the second), so B recomputes 5 of its 9 tokens once A is done.
       {"A:6 B:6", "A:1 B:1", "A:1 B:1", "A:1 -B", "A:1", "A:1", "B:5", "B:1", "B:1", ""}},
      {"n = 2: the fork shares the partial block and computes only the last prompt token; "
       "the leader's write into the shared block copies it, the fork then writes the original in place",
       small_config(),
       {{0, "A", 10, 3, 0, /*n=*/2}},
       {"A:10", "A:1 A.1:1 cow:A", "A:1 A.1:1", "A.1:1", ""}},
      {"n = 3: three holders of a block make two copies",
       small_config(),
       {{0, "A", 10, 2, 0, /*n=*/3}},
       {"A:10", "A:1 A.1:1 A.2:1 cow:A cow:A.1", "A.1:1 A.2:1", ""}},
      {"n = 2: a last prompt token that starts a block leaves nothing to copy",
       small_config(),
       {{0, "A", 9, 2, 0, /*n=*/2}},
       {"A:9", "A:1 A.1:1", "A.1:1", ""}},
      {"n = 2: a prompt of whole blocks: the fork rewrites the last prompt token, so it copies the full block",
       small_config(),
       {{0, "A", 8, 2, 0, /*n=*/2}},
       {"A:8", "A:1 A.1:1 cow:A.1", "A.1:1", ""}},
      {"n = 2: a chunk that ends before the last prompt token forks at once; all compute the last one together",
       with(small_config(), [](SchedulerSetup& c) { c.max_num_batched_tokens = 9; }),
       {{0, "A", 10, 2, 0, /*n=*/2}},
       {"A:9", "A:1 A.1:1 cow:A", "A:1 A.1:1", ""}},
      {"no free block for a copy: the least important sequence is preempted, as for any allocation",
       with(small_config(), [](SchedulerSetup& c) { c.num_kv_blocks = 4; }),
       {{0, "A", 10, 3, 0, /*n=*/2}, {0, "B", 3, 5}},
       // A's 3 blocks (shared with its fork) and B's 1 fill the pool; A's copy takes B's.
       {"A:10 B:3", "A:1 A.1:1 -B cow:A", "A:1 A.1:1", "A.1:1 B:4", "B:1", "B:1", "B:1", ""}},
      {"a cached prefix is not computed again",
       small_config(),
       {{0, "A", 12, 1, 0, 1, tokens_from(0, 12)},
        {2, "B", 12, 1, 0, 1,
         [] {
           std::vector<int32_t> p = tokens_from(0, 10);
           p.insert(p.end(), {50, 51});
           return p;
         }()}},
       {"A:12", "", "B:4"}},
      {"a whole cached prompt still computes its last block",
       small_config(),
       {{0, "A", 12, 1, 0, 1, tokens_from(0, 12)}, {1, "B", 12, 1, 0, 1, tokens_from(0, 12)}},
       {"A:12", "B:4"}},
      {"a static batch admits nobody until it has finished",
       with(small_config(),
            [](SchedulerSetup& c) {
              c.max_num_seqs = 2;
              c.scheduler = SchedulerMode::kStatic;
            }),
       {{0, "A", 4, 1}, {0, "B", 4, 3}, {1, "C", 4, 1}},
       {"A:4 B:4", "B:1", "B:1", "C:4", ""}},
      {"a static batch admits every member, also one the step's budget has no tokens left for",
       with(small_config(),
            [](SchedulerSetup& c) {
              c.max_num_seqs = 2;
              c.max_num_batched_tokens = 8;
              c.scheduler = SchedulerMode::kStatic;
            }),
       {{0, "A", 8, 2}, {0, "B", 4, 1}},
       {"A:8", "A:1 B:4", ""}},
      {"the same arrivals in continuous mode",
       with(small_config(), [](SchedulerSetup& c) { c.max_num_seqs = 2; }),
       {{0, "A", 4, 1}, {0, "B", 4, 3}, {1, "C", 4, 1}},
       {"A:4 B:4", "B:1 C:4", "B:1", ""}},
  };
  return all;
}

TEST(SchedulerScript, EachStepSchedulesTheExpectedTokens) {
  for (const StepScript& script : scripts()) {
    SCOPED_TRACE(script.name);
    Harness h(script.config);
    for (size_t step = 0; step < script.expected.size(); ++step) {
      for (const Arrival& a : script.arrivals) {
        if (a.step != static_cast<int>(step)) continue;
        SamplingParams p = params(a.max_tokens, a.n);
        if (a.prompt.empty()) {
          h.add(a.name, a.prompt_len, p, a.priority);
        } else {
          h.add(a.name, a.prompt, p, a.priority);
        }
      }
      EXPECT_EQ(h.step(), script.expected[step]) << "step " << step;
    }
    EXPECT_FALSE(h.scheduler.has_unfinished());
    EXPECT_EQ(h.scheduler.kv().pool().num_used_blocks(), 0);
  }
}

TEST(Scheduler, PreemptionKeepsTheOutputAndCountsIt) {
  Harness h(with(small_config(), [](SchedulerSetup& c) { c.num_kv_blocks = 4; }));
  h.add("A", 6, params(6));
  Request& b = h.add("B", 6, params(6));
  for (int i = 0; i < 3; ++i) h.step();
  const std::vector<int32_t> before(b.seqs[0]->token_ids);
  EXPECT_EQ(h.step(), "A:1 -B");
  EXPECT_EQ(h.scheduler.num_preemptions(), 1);
  EXPECT_EQ(b.seqs[0]->status, SequenceStatus::kWaiting);
  EXPECT_EQ(b.seqs[0]->num_computed_tokens, 0);
  EXPECT_EQ(b.seqs[0]->token_ids, before) << "prompt and output so far, to recompute";
  EXPECT_TRUE(h.scheduler.kv().block_table(b.seqs[0]->seq_id).empty());
}

TEST(Scheduler, AdmissionRejectsWhatCanNeverRun) {
  const SchedulerSetup setup = with(small_config(), [](SchedulerSetup& c) {
    c.max_model_len = 100;
    c.num_kv_blocks = 10;  // 40 tokens
  });
  Scheduler s(setup, setup);
  const auto reason = [&](int32_t prompt_len, const SamplingParams& p) {
    try {
      s.check_admissible(prompt_len, p);
    } catch (const RequestRejected& e) {
      return std::optional<RejectReason>(e.reason());
    }
    return std::optional<RejectReason>();
  };
  EXPECT_EQ(reason(30, params(10)), std::nullopt);
  EXPECT_EQ(reason(0, params(10)), RejectReason::kInvalid);
  EXPECT_EQ(reason(10, params(0)), RejectReason::kInvalid);
  EXPECT_EQ(reason(10, params(10, /*n=*/9)), RejectReason::kInvalid) << "n above max_num_seqs";
  SamplingParams min_above_max = params(4);
  min_above_max.min_tokens = 5;
  EXPECT_EQ(reason(10, min_above_max), RejectReason::kInvalid);
  EXPECT_EQ(reason(90, params(11)), RejectReason::kContextLength);
  EXPECT_EQ(reason(35, params(6)), RejectReason::kKvCapacity) << "41 tokens need 11 of 10 blocks";

  try {
    s.check_admissible(90, params(11));
  } catch (const RequestRejected& e) {
    EXPECT_NE(std::string(e.what()).find("maximum context length is 100 tokens"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("101 tokens"), std::string::npos) << e.what();
  }
}

TEST(Scheduler, AbortFreesBlocksAtOnce) {
  Harness h(small_config());
  Request& a = h.add("A", 30, params(10));
  Request& b = h.add("B", 9, params(10));
  h.step();
  ASSERT_GT(h.scheduler.kv().pool().num_used_blocks(), 0);
  h.scheduler.abort_request(a);
  EXPECT_EQ(h.scheduler.kv().pool().num_used_blocks(), 3) << "only B's blocks are left";
  h.scheduler.abort_request(b);
  EXPECT_EQ(h.scheduler.kv().pool().num_used_blocks(), 0);
  EXPECT_TRUE(a.finished());
  EXPECT_EQ(a.seqs[0]->finish_reason, FinishReason::kAbort);
  EXPECT_FALSE(h.scheduler.has_unfinished());
  const SchedulerOutput& out = h.scheduler.schedule();
  EXPECT_EQ(out.finished_seq_ids, (std::vector<uint64_t>{a.seqs[0]->seq_id, b.seqs[0]->seq_id}));
}

TEST(Scheduler, AbortOfAWaitingRequestRemovesIt) {
  Harness h(with(small_config(), [](SchedulerSetup& c) { c.max_num_seqs = 1; }));
  h.add("A", 4, params(5));
  Request& b = h.add("B", 4, params(5));
  h.step();
  EXPECT_EQ(h.scheduler.num_waiting_seqs(), 1);
  h.scheduler.abort_request(b);
  EXPECT_EQ(h.scheduler.num_waiting_seqs(), 0);
  EXPECT_TRUE(b.finished());
}

TEST(Scheduler, EosStopsUnlessIgnoredAndNotBeforeMinTokens) {
  Harness h(small_config());
  h.next_token = [](const Sequence&) { return kEos; };
  Request& plain = h.add("A", 4, params(5));
  SamplingParams ignore = params(5);
  ignore.ignore_eos = true;
  Request& ignoring = h.add("B", 4, ignore);
  SamplingParams min2 = params(5);
  min2.min_tokens = 2;
  Request& with_min = h.add("C", 4, min2);
  for (int i = 0; i < 6; ++i) h.step();
  EXPECT_EQ(plain.seqs[0]->finish_reason, FinishReason::kStop);
  EXPECT_EQ(plain.seqs[0]->num_output_tokens(), 1);
  EXPECT_EQ(ignoring.seqs[0]->finish_reason, FinishReason::kLength);
  EXPECT_EQ(ignoring.seqs[0]->num_output_tokens(), 5);
  EXPECT_EQ(with_min.seqs[0]->finish_reason, FinishReason::kStop);
  EXPECT_EQ(with_min.seqs[0]->num_output_tokens(), 3) << "two tokens, then the eos";
}

TEST(Scheduler, StopIdsAreBannedUntilMinTokens) {
  Harness h(small_config());
  SamplingParams p = params(5);
  p.min_tokens = 1;
  p.stop_token_ids = {42};
  Request& r = h.add("A", 4, p);
  const Sequence& seq = *r.seqs[0];
  EXPECT_EQ(std::vector<int32_t>(h.scheduler.banned_token_ids(seq).begin(), h.scheduler.banned_token_ids(seq).end()),
            (std::vector<int32_t>{kEos, 42}));
  h.next_token = [](const Sequence&) { return 42; };
  h.step();
  EXPECT_TRUE(h.scheduler.banned_token_ids(seq).empty());
  h.step();
  EXPECT_EQ(seq.finish_reason, FinishReason::kStop);
  EXPECT_EQ(seq.num_output_tokens(), 2);
}

TEST(Scheduler, FinishesASequenceOnAStopStringTheEngineFound) {
  Harness h(small_config());
  SamplingParams p = params(3);
  p.stop_token_ids = {42};
  Request& a = h.add("A", 4, p);
  Request& b = h.add("B", 4, params(3));
  std::vector<int32_t> checked;  // the tokens the engine saw, A's and B's
  h.stop_string = [&](const Sequence& seq, const SampledToken& t) {
    EXPECT_EQ(seq.token_ids.back(), t.token_id) << "the token is the sequence's when the engine sees it";
    checked.push_back(t.token_id);
    return seq.request == &b && seq.num_output_tokens() == 1;
  };
  h.step();
  EXPECT_EQ(b.seqs[0]->finish_reason, FinishReason::kStop);
  EXPECT_TRUE(b.finished());
  EXPECT_EQ(h.scheduler.kv().block_table(b.seqs[0]->seq_id).size(), 0u) << "its blocks are freed at once";
  EXPECT_FALSE(a.finished());
  h.next_token = [](const Sequence&) { return 42; };
  h.step();
  EXPECT_EQ(a.seqs[0]->finish_reason, FinishReason::kStop);
  EXPECT_EQ(checked.size(), 2u) << "a stop id ends the output without being text";
}

TEST(Scheduler, AStopStringWinsOverTheLengthLimitTheSameTokenReached) {
  Harness h(small_config());
  Request& a = h.add("A", 4, params(1));
  h.stop_string = [](const Sequence&, const SampledToken&) { return true; };
  h.step();
  EXPECT_EQ(a.seqs[0]->finish_reason, FinishReason::kStop);
}

TEST(Scheduler, ANumericalErrorFailsTheWholeRequestAndCachesNothing) {
  Harness h(small_config());
  Request& a = h.add("A", tokens_from(0, 12), params(3, /*n=*/2));
  Request& b = h.add("B", 8, params(3));
  h.step();  // A's leader samples and forks
  ASSERT_EQ(a.seqs.size(), 2u);
  const SchedulerOutput& out = h.scheduler.schedule();
  std::vector<SampledToken> sampled;
  for (const ScheduledSequence& s : out.seqs) {
    sampled.push_back(token(s.seq->seq_id, 20));
    if (s.seq == a.seqs[1].get()) sampled.back() = nan_token(s.seq->seq_id);
  }
  const auto& updates = h.scheduler.update_from_output(out, sampled);
  int errors = 0;
  for (const SequenceUpdate& u : updates) errors += u.finish == FinishReason::kError ? 1 : 0;
  EXPECT_EQ(errors, 2) << "both of A's completions end";
  EXPECT_TRUE(a.finished());
  EXPECT_FALSE(a.error_message.empty());
  EXPECT_FALSE(b.finished());
  EXPECT_EQ(h.scheduler.num_numerical_errors(), 1);
  EXPECT_EQ(h.scheduler.num_running_seqs(), 1);
}

TEST(Scheduler, NForksCountAgainstMaxNumSeqsBeforeTheyExist) {
  Harness h(with(small_config(), [](SchedulerSetup& c) {
    c.max_num_seqs = 3;
    c.max_num_batched_tokens = 8;
  }));
  h.add("A", 20, params(2, /*n=*/2));
  h.add("B", 4, params(2, /*n=*/2));
  EXPECT_EQ(h.step(), "A:8") << "B would need 2 more slots while A holds 2";
  EXPECT_EQ(h.scheduler.num_running_seqs(), 1);
}

TEST(Scheduler, ForkedCompletionsShareEveryPromptBlockThePartialLastOneToo) {
  Harness h(small_config());
  Request& a = h.add("A", 10, params(3, /*n=*/3));
  h.step();
  ASSERT_EQ(a.seqs.size(), 3u);
  const auto table = h.scheduler.kv().block_table(a.seqs[0]->seq_id);
  const std::vector<int32_t> leader(table.begin(), table.end());
  ASSERT_EQ(leader.size(), 3u);
  for (int i = 1; i < 3; ++i) {
    const auto child = h.scheduler.kv().block_table(a.seqs[i]->seq_id);
    EXPECT_TRUE(std::ranges::equal(child, leader)) << "completion " << i;
    EXPECT_EQ(a.seqs[i]->seed, 1u + i);
    EXPECT_EQ(a.seqs[i]->num_computed_tokens, 9) << "all but the last prompt token";
  }
  for (int32_t id : leader) EXPECT_EQ(h.scheduler.kv().pool().ref_count(id), 3);

  // Everyone writes into the shared third block next: two private copies, no block lost.
  EXPECT_EQ(h.step(), "A:1 A.1:1 A.2:1 cow:A cow:A.1");
  const int32_t shared = leader[2];
  EXPECT_EQ(h.scheduler.kv().pool().ref_count(shared), 1);
  EXPECT_EQ(h.scheduler.kv().block_table(a.seqs[2]->seq_id)[2], shared);
  EXPECT_EQ(h.scheduler.kv().pool().num_used_blocks(), 5);
}

TEST(Scheduler, ContiguousLayoutReservesPromptPlusMaxTokensAndSharesNothing) {
  Harness h(with(small_config(), [](SchedulerSetup& c) { c.kv_layout = KvLayout::kContiguous; }));
  Request& a = h.add("A", tokens_from(0, 12), params(9, /*n=*/2));
  EXPECT_EQ(h.step(), "A:12");
  // 12 + 9 = 21 tokens: 6 blocks, reserved at admission; the fork shares nothing.
  EXPECT_EQ(h.scheduler.kv().block_table(a.seqs[0]->seq_id).size(), 6u);
  EXPECT_EQ(h.step(), "A:1 A.1:12");
  EXPECT_EQ(h.scheduler.kv().block_table(a.seqs[1]->seq_id).size(), 6u);
  h.add("B", tokens_from(0, 12), params(1));
  EXPECT_EQ(h.step(), "A:1 A.1:1 B:12") << "no prefix cache in the contiguous layout";
}

TEST(Scheduler, MaxModelLenEndsASequence) {
  Harness h(with(small_config(), [](SchedulerSetup& c) { c.max_model_len = 10; }));
  Request& a = h.add("A", 6, params(4));
  for (int i = 0; i < 5; ++i) h.step();
  EXPECT_EQ(a.seqs[0]->finish_reason, FinishReason::kLength);
  EXPECT_EQ(a.seqs[0]->num_tokens(), 10);
}

// Stall-free batching (--target-itl-ms): with a step cost of 1 ms + 0.5 ms per token, a
// 20.25 ms target leaves room for 38 tokens in a step that carries decodes: 4 decodes and a
// chunk of 34 (the quarter millisecond keeps the fitted model off the boundary).
TEST(Scheduler, TargetItlCutsPromptChunksWhileSequencesDecode) {
  const auto run = [](double target_itl_ms) {
    Harness h(with(small_config(), [&](SchedulerSetup& c) {
      c.num_kv_blocks = 256;
      c.target_itl_ms = target_itl_ms;
    }));
    const auto timed_step = [&] {
      const std::string text = h.step();  // "A:8 B:1": the step's tokens after each colon
      double tokens = 0;
      for (size_t at = text.find(':'); at != std::string::npos; at = text.find(':', at + 1))
        tokens += std::stod(text.substr(at + 1));
      h.scheduler.record_step_time(1.0 + 0.5 * tokens);
      return text;
    };
    // Four sequences of different prompt lengths start and decode: the cost model learns.
    for (int i = 0; i < 4; ++i) h.add("D" + std::to_string(i), 5 + 20 * i, params(60));
    for (int i = 0; i < 12; ++i) timed_step();
    h.add("P", 200, params(4));
    std::vector<std::string> steps;
    for (int i = 0; i < 3; ++i) steps.push_back(timed_step());
    // Every chunk of P was cut when a target was set (the counter behind the metric).
    EXPECT_EQ(h.scheduler.num_prefill_chunks_cut(), target_itl_ms > 0 ? 3 : 0) << target_itl_ms;
    return steps;
  };
  EXPECT_EQ(run(0), (std::vector<std::string>{"D0:1 D1:1 D2:1 D3:1 P:60", "D0:1 D1:1 D2:1 D3:1 P:60",
                                               "D0:1 D1:1 D2:1 D3:1 P:60"}));
  EXPECT_EQ(run(20.25), (std::vector<std::string>{"D0:1 D1:1 D2:1 D3:1 P:34", "D0:1 D1:1 D2:1 D3:1 P:34",
                                                   "D0:1 D1:1 D2:1 D3:1 P:34"}));
  // A target the decodes alone exceed still moves the prompt by the minimum chunk.
  EXPECT_EQ(run(2.0), (std::vector<std::string>{"D0:1 D1:1 D2:1 D3:1 P:16", "D0:1 D1:1 D2:1 D3:1 P:16",
                                                 "D0:1 D1:1 D2:1 D3:1 P:16"}));
}

}  // namespace
}  // namespace tern
