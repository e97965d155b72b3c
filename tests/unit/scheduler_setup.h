// The scheduler's sizes and its policy as one value, so that a scheduler test writes and
// varies both alike (`setup.max_num_seqs = 2; setup.kv_layout = ...`) and hands the one
// value to Scheduler(setup, setup).
#pragma once

#include "engine/engine_config.h"
#include "engine/engine_sizes.h"

namespace tern::testing {

struct SchedulerSetup : EngineSizes, EngineConfig {};

}  // namespace tern::testing
