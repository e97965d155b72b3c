#include "tokenizer/bpe_model.h"

#include <algorithm>
#include <queue>

#include "base/utf8.h"
#include "tokenizer/byte_level.h"

namespace tern {
namespace {

void reject_option(const JsonNode& model, std::string_view key, bool set) {
  if (set) model.required(key).fail("not supported for byte-level BPE");
}

std::pair<std::string, std::string> parse_merge(const JsonNode& merge) {
  if (merge.value().is_string()) {
    const std::string line = merge.as_string();
    const size_t space = line.find(' ');
    if (space == std::string::npos || line.find(' ', space + 1) != std::string::npos) {
      merge.fail("expected \"left right\" (two tokens separated by one space), found \"", line, "\"");
    }
    return {line.substr(0, space), line.substr(space + 1)};
  }
  if (merge.value().is_array() && merge.size() == 2) {
    return {merge.element(0).as_string(), merge.element(1).as_string()};
  }
  merge.fail("expected \"left right\" or [\"left\", \"right\"]");
}

}  // namespace

std::unique_ptr<BpeModel> BpeModel::from_json(const JsonNode& model) {
  if (model.has("type") && model.required("type").as_string() != "BPE") {
    model.required("type").fail("unsupported model type \"", model.required("type").as_string(), "\" (supported: BPE)");
  }
  auto bpe = std::make_unique<BpeModel>();
  reject_option(model, "dropout", model.has("dropout") && model.required("dropout").value() != 0.0);
  reject_option(model, "byte_fallback", model.boolean("byte_fallback").value_or(false));
  reject_option(model, "continuing_subword_prefix", !model.string("continuing_subword_prefix").value_or("").empty());
  reject_option(model, "end_of_word_suffix", !model.string("end_of_word_suffix").value_or("").empty());
  bpe->ignore_merges_ = model.boolean("ignore_merges").value_or(false);
  bpe->fuse_unk_ = model.boolean("fuse_unk").value_or(false);

  const JsonNode vocab = model.required("vocab");
  if (!vocab.value().is_object()) vocab.fail("expected an object of token -> id");
  const auto count = static_cast<int64_t>(vocab.value().size());
  bpe->tokens_.resize(count);
  std::vector<bool> seen(count, false);
  bpe->ids_.reserve(count);
  for (const auto& [token, id_value] : vocab.value().items()) {
    // Nodes with a path are built only for errors: the vocabulary has ~10^5 entries.
    if (!id_value.is_number_integer()) vocab.required(token).as_integer();
    const auto id = id_value.get<int64_t>();
    if (id < 0 || id >= count)
      vocab.required(token).fail("id ", id, " is outside 0..", count - 1, " (ids must be dense)");
    if (seen[id]) vocab.required(token).fail("duplicate id ", id, " (also used by \"", bpe->tokens_[id], "\")");
    seen[id] = true;
    bpe->tokens_[id] = token;
    bpe->ids_.emplace(token, static_cast<int32_t>(id));
    if (!bpe->ignore_merges_) continue;
    if (std::optional<std::string> bytes = byte_level::decode(token)) {
      bpe->ids_by_bytes_.emplace(std::move(*bytes), static_cast<int32_t>(id));
    }
  }
  bpe->byte_ids_.fill(-1);
  for (int b = 0; b < 256; ++b) {
    std::string symbol;
    utf8::append(byte_level::byte_to_char(static_cast<uint8_t>(b)), symbol);
    if (auto id = bpe->token_to_id(symbol)) bpe->byte_ids_[b] = *id;
  }
  if (model.has("unk_token")) {
    const JsonNode unk = model.required("unk_token");
    bpe->unk_id_ = bpe->token_to_id(unk.as_string());
    if (!bpe->unk_id_) unk.fail("\"", unk.as_string(), "\" is not in model.vocab");
  }

  const JsonNode merges = model.required("merges");
  bpe->merges_.reserve(merges.size());
  int32_t rank = 0;
  for (size_t i = 0; i < merges.size(); ++i) {
    const JsonNode merge = merges.element(i);
    if (merge.value().is_string() && merge.as_string().starts_with("#version")) continue;
    const auto [left, right] = parse_merge(merge);
    const auto left_id = bpe->token_to_id(left);
    const auto right_id = bpe->token_to_id(right);
    const auto new_id = bpe->token_to_id(left + right);
    if (!left_id) merge.fail("token \"", left, "\" is not in model.vocab");
    if (!right_id) merge.fail("token \"", right, "\" is not in model.vocab");
    if (!new_id) merge.fail("merged token \"", left + right, "\" is not in model.vocab");
    // A repeated pair takes its last rank, as HF's merge map does.
    bpe->merges_[pair_key(*left_id, *right_id)] = Merge{rank++, *new_id};
  }
  bpe->find_uniform_runs();
  return bpe;
}

void BpeModel::find_uniform_runs() {
  // Tokens made only of one byte: their byte and length.
  struct RunToken {
    int32_t byte = -1;
    int64_t length = 0;
  };
  std::vector<RunToken> run_tokens(tokens_.size());
  for (size_t id = 0; id < tokens_.size(); ++id) {
    const std::optional<std::string> bytes = byte_level::decode(tokens_[id]);
    if (!bytes || bytes->empty() || bytes->find_first_not_of((*bytes)[0]) != std::string::npos) continue;
    run_tokens[id] = {static_cast<uint8_t>((*bytes)[0]), static_cast<int64_t>(bytes->size())};
  }
  struct Rule {
    int32_t left, right, rank, new_id;
  };
  std::array<std::vector<Rule>, 256> rules;
  std::vector<int32_t> last_creator_rank(tokens_.size(), -1);
  for (const auto& [key, merge] : merges_) {
    const auto left = static_cast<int32_t>(key >> 32), right = static_cast<int32_t>(key & 0xffffffffu);
    const RunToken& l = run_tokens[left];
    if (l.byte < 0 || run_tokens[right].byte != l.byte) continue;
    rules[l.byte].push_back({left, right, merge.rank, merge.new_id});
    last_creator_rank[merge.new_id] = std::max(last_creator_rank[merge.new_id], merge.rank);
  }
  for (int b = 0; b < 256; ++b) {
    if (byte_ids_[b] < 0) continue;
    int64_t longest = 1;
    bool in_rank_order = true;
    for (const Rule& r : rules[b]) {
      longest = std::max(longest, run_tokens[r.new_id].length);
      in_rank_order = in_rank_order && last_creator_rank[r.left] < r.rank && last_creator_rank[r.right] < r.rank;
    }
    if (!in_rank_order) continue;
    UniformRun& run = uniform_runs_[b];
    run.bulk_id = byte_ids_[b];
    run.bulk_bytes = 1;
    while (const Merge* m = find_merge(run.bulk_id, run.bulk_id)) {
      run.bulk_id = m->new_id;
      run.bulk_bytes *= 2;
    }
    run.tail_bytes = 2 * (static_cast<int64_t>(rules[b].size()) + 1) * longest;
  }
}

std::optional<int32_t> BpeModel::token_to_id(std::string_view token) const {
  auto it = ids_.find(token);
  if (it == ids_.end()) return std::nullopt;
  return it->second;
}

const BpeModel::Merge* BpeModel::find_merge(int32_t left, int32_t right) const {
  auto it = merges_.find(pair_key(left, right));
  return it == merges_.end() ? nullptr : &it->second;
}

void BpeModel::encode_word(std::string_view word, std::vector<int32_t>& ids, const CancelFlag* cancel) const {
  if (word.empty()) return;
  if (ignore_merges_) {
    auto it = ids_by_bytes_.find(word);
    if (it != ids_by_bytes_.end()) {
      ids.push_back(it->second);
      return;
    }
  }
  if (cache_.lookup(word, ids)) return;
  if (encode_uniform_run(word, ids, cancel)) return;
  const size_t first = ids.size();
  merge_word(word, ids, cancel);
  cache_.insert(word, ids.data() + first, ids.size() - first);
}

bool BpeModel::encode_uniform_run(std::string_view word, std::vector<int32_t>& ids, const CancelFlag* cancel) const {
  // Shorter runs merge fast enough; the closed form pays off past a few pages.
  constexpr int64_t kMinRunBytes = 16 << 10;
  const auto n = static_cast<int64_t>(word.size());
  if (n < kMinRunBytes) return false;
  const UniformRun& run = uniform_runs_[static_cast<uint8_t>(word[0])];
  if (run.bulk_id < 0 || n < run.tail_bytes + 2 * run.bulk_bytes) return false;
  if (word.find_first_not_of(word[0]) != std::string_view::npos) return false;
  const int64_t bulk_count = (n - run.tail_bytes) / run.bulk_bytes;
  ids.insert(ids.end(), static_cast<size_t>(bulk_count), run.bulk_id);
  merge_word(word.substr(static_cast<size_t>(bulk_count * run.bulk_bytes)), ids, cancel);
  return true;
}

// HF's BPE word merge: a min-heap of candidate pairs ordered by (rank, position); entries
// made stale by earlier merges are skipped when popped. O(n log n) per word.
void BpeModel::merge_word(std::string_view word, std::vector<int32_t>& ids, const CancelFlag* cancel) const {
  std::vector<int32_t> symbols;  // ids; a merged-away symbol keeps its slot with next_ skipping it
  symbols.reserve(word.size());
  bool previous_unknown = false;
  for (char c : word) {
    const int32_t id = byte_ids_[static_cast<uint8_t>(c)];
    if (id >= 0) {
      symbols.push_back(id);
    } else if (unk_id_ && !(fuse_unk_ && previous_unknown)) {
      symbols.push_back(*unk_id_);
    }
    previous_unknown = id < 0;
  }
  const int n = static_cast<int>(symbols.size());
  std::vector<int> prev(n), next(n);
  std::vector<bool> removed(n, false);
  for (int i = 0; i < n; ++i) {
    prev[i] = i - 1;
    next[i] = i + 1 < n ? i + 1 : -1;
  }
  struct Candidate {
    int32_t rank;
    int pos;
    int32_t new_id;
    bool operator>(const Candidate& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
  };
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> queue;
  for (int i = 0; i + 1 < n; ++i) {
    if (const Merge* m = find_merge(symbols[i], symbols[i + 1])) queue.push({m->rank, i, m->new_id});
  }
  constexpr uint32_t kCancelCheckInterval = 1 << 14;
  for (uint32_t popped = 1; !queue.empty(); ++popped) {
    if (cancel && popped % kCancelCheckInterval == 0) cancel->throw_if_cancelled();
    const Candidate top = queue.top();
    queue.pop();
    if (removed[top.pos] || next[top.pos] < 0) continue;
    const int right = next[top.pos];
    const Merge* current = find_merge(symbols[top.pos], symbols[right]);
    if (current == nullptr || current->new_id != top.new_id) continue;  // stale entry

    symbols[top.pos] = top.new_id;
    removed[right] = true;
    next[top.pos] = next[right];
    if (next[right] >= 0) prev[next[right]] = top.pos;
    if (prev[top.pos] >= 0) {
      if (const Merge* m = find_merge(symbols[prev[top.pos]], top.new_id)) {
        queue.push({m->rank, prev[top.pos], m->new_id});
      }
    }
    if (next[top.pos] >= 0) {
      if (const Merge* m = find_merge(top.new_id, symbols[next[top.pos]])) queue.push({m->rank, top.pos, m->new_id});
    }
  }
  for (int i = 0; i < n; ++i) {
    if (!removed[i]) ids.push_back(symbols[i]);
  }
}

}  // namespace tern
