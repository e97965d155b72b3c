// deploy/grafana/tern.json imports against deploy/prometheus: every series each panel's
// expression names is one the recording rules define, a tern metric docs/server.md lists
// (a histogram's _bucket, _sum or _count included), or Prometheus' own `up`. A renamed
// rule or metric fails here instead of leaving an empty panel.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";

import { repoRoot } from "../server/helpers.mjs";

const read = (file) => fs.readFileSync(path.join(repoRoot, file), "utf8");
const recorded = new Set([...read("deploy/prometheus/tern_rules.yml").matchAll(/^\s*- record: (\S+)$/gm)].map((m) => m[1]));
const metricsSection = read("docs/server.md").split("\n## Metrics\n")[1].split("\n## ")[0];
const documented = new Set([...metricsSection.matchAll(/`(tern_[a-z_]+)(?:\{[a-z_]+\})?`/g)].map((m) => m[1]));
const keywords = new Set(["by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless",
                          "bool", "offset", "inf", "nan"]);

// The series names in a PromQL expression: identifiers that are not functions, keywords,
// label names inside {...} or by (...), or durations in [...].
export function seriesNames(expr) {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, "")
    .replace(/\[[^\]]*\]/g, "")
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, "");
  return [...stripped.matchAll(/([A-Za-z_:][A-Za-z0-9_:]*)(\s*\()?/g)]
    .filter((m) => !m[2])  // a function or aggregation
    .map((m) => m[1])
    .filter((name) => !keywords.has(name.toLowerCase()));
}

function known(name) {
  if (name === "up" || recorded.has(name) || documented.has(name)) return true;
  const histogram = /^(.*)_(bucket|sum|count)$/.exec(name);
  return Boolean(histogram && documented.has(histogram[1]));
}

test("the rules and the docs were read", () => {
  assert.ok(recorded.has("fleet:tern_time_to_first_token_seconds:p99_1m"));
  assert.ok(documented.has("tern_kv_cache_usage_ratio") && documented.has("tern_requests_total"));
});

test("the series finder sees series, not functions, labels or ranges", () => {
  assert.deepEqual(seriesNames('histogram_quantile(0.99, sum by (le) (rate(x_bucket{job="tern"}[1m])))'), ["x_bucket"]);
  assert.deepEqual(seriesNames("sum(a - b) / sum(c:d:e)"), ["a", "b", "c:d:e"]);
});

test("every panel expression names only series the rules define or tern exports", () => {
  const dashboard = JSON.parse(read("deploy/grafana/tern.json"));
  assert.ok(dashboard.panels.length >= 8);
  let checked = 0;
  for (const panel of dashboard.panels) {
    assert.ok(panel.targets.length > 0, `panel "${panel.title}" has a query`);
    for (const target of panel.targets) {
      const names = seriesNames(target.expr);
      assert.ok(names.length > 0, `panel "${panel.title}": ${target.expr} names a series`);
      for (const name of names) {
        assert.ok(known(name), `panel "${panel.title}": ${name} is neither a recording rule nor a tern metric`);
        ++checked;
      }
    }
  }
  assert.ok(checked >= 20);
});
