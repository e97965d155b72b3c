// The thread that makes a step's token masks (structured output) while the model's
// forward runs. The engine thread hands it the step's constrained sequences before
// calling the executor; the executor's wait() returns the masks once done. Each mask is
// exact: it reflects every token the sequence accepted, since the engine accepts the
// last sampled token before it schedules the next step.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <mutex>
#include <span>
#include <thread>
#include <vector>

#include "engine/model_executor.h"
#include "grammar/matcher.h"

namespace tern {

class TokenMaskWorker final : public StepTokenMasks {
 public:
  struct Job {
    grammar::Matcher* matcher = nullptr;
    // Ids that end the output (eos, stop_token_ids): allowed when the grammar may end
    // there and `may_end` (min_tokens reached).
    std::span<const int32_t> end_token_ids;
    bool may_end = true;
  };

  TokenMaskWorker();
  ~TokenMaskWorker() override;
  TokenMaskWorker(const TokenMaskWorker&) = delete;
  TokenMaskWorker& operator=(const TokenMaskWorker&) = delete;

  // Starts computing row i for jobs[i], each row `words_per_row` words. The matchers must
  // not be touched by anyone else until wait() returned. Waits for a previous job first.
  void start(std::vector<Job> jobs, int32_t words_per_row);
  // Blocks until the rows of the last start() are done; returns them again when called
  // more than once. Safe to call with no job started (returns no rows). Rethrows, once,
  // what computing them threw.
  TokenMaskRows wait() override;
  // Microseconds each row of the last finished job took; read after wait().
  const std::vector<double>& row_micros() const { return row_micros_; }

 private:
  void loop();

  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<Job> jobs_;
  std::vector<uint32_t> words_;
  std::vector<double> row_micros_;
  int32_t words_per_row_ = 0;
  bool pending_ = false;  // a started job is not finished
  std::exception_ptr error_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace tern
