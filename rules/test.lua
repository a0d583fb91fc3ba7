-- test: evaluate a model on its features' test split (the test plugin), and
-- fail the build when a metric or a fairness measure crosses a limit.
--
--   test "loans_gate" {
--     model = ":loans_lr", features = ":loans_feat",
--     min = { accuracy = 0.70, roc_auc = 0.75 },
--     fairness = { max_gap = { accuracy = 0.05 }, max_demographic_parity_diff = 0.10 },
--     warn = { min = { f1_macro = 0.8 } },
--   }
--
-- warn: limits that print a warning and are listed in metrics.json, but do
-- not fail. With features that hold a validation split, metrics.json also
-- has its metrics as "validation" (a select ranks on them). Outputs
-- metrics.json and curves.json (the points of the ROC, precision-recall and
-- calibration curves, or a regression's predictions, for `kiln report`); a
-- failed test's metrics.json is written to its log.

-- The shared argument checks (rules/_args.lua).
local describe, check, check_args, check_table =
  kiln.args.describe, kiln.args.check, kiln.args.check_args, kiln.args.check_table

local metric = { check.number, "a number" }
local metrics = {
  accuracy = metric, precision_macro = metric, recall_macro = metric, f1_macro = metric,
  roc_auc = metric, log_loss = metric, rmse = metric, mae = metric, r2 = metric,
}
local gaps = { accuracy = metric, selection_rate = metric, true_positive_rate = metric }
local is_table = function(v) return type(v) == "table" end

local spec = {
  model = { check.string, "a \":model\" target" },
  features = { check.string, "a \":features\" target" },
  min = { is_table, "a table of metric = lowest allowed value" },
  max = { is_table, "a table of metric = highest allowed value" },
  fairness = { is_table, "a table of fairness limits" },
  warn = { is_table, "a table { min = { metric = F }, max = { metric = F } }" },
  resources = { is_table, "a table" },
}

function test(name)
  return function(args)
    check_args("test", name, args, spec, { "model", "features" })
    check_table("test", name, "min", args.min or {}, metrics)
    check_table("test", name, "max", args.max or {}, metrics)
    check_table("test", name, "fairness", args.fairness or {}, {
      max_gap = { is_table, "a table of metric = largest allowed gap" },
      max_demographic_parity_diff = { check.range(0, 1), "a number in [0, 1]" },
      max_equal_opportunity_diff = { check.range(0, 1), "a number in [0, 1]" } })
    check_table("test", name, "fairness.max_gap", (args.fairness or {}).max_gap or {}, gaps)
    check_table("test", name, "warn", args.warn or {}, {
      min = { is_table, "a table of metric = lowest value before a warning" },
      max = { is_table, "a table of metric = highest value before a warning" } })
    check_table("test", name, "warn.min", (args.warn or {}).min or {}, metrics)
    check_table("test", name, "warn.max", (args.warn or {}).max or {}, metrics)
    kiln.target {
      name = name,
      plugin = "test",
      inputs = { model = args.model, features = args.features },
      params = { min = args.min, max = args.max, fairness = args.fairness, warn = args.warn },
      outputs = { "metrics.json", "curves.json" },
      resources = args.resources,
      -- OpenBLAS picks its kernels from this variable, and the kernels
      -- decide the last bits of every product: the key must see it.
      env = { "OPENBLAS_CORETYPE" },
    }
  end
end
