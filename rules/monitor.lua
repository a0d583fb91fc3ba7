-- monitor: a model scored on fresh labelled data that grows over time (the
-- monitor plugin).
--
--   monitor "iris_watch" { model = ":iris_model", data = "feedback/*.csv", min = { accuracy = 0.9 } }
--
-- data is a folder of CSV files or a glob of them: one batch per file, in
-- name order, each row through the transform the model was trained with.
-- A new file changes the input, so the next build scores again. Metrics:
-- accuracy (the latest batch), accuracy_all, batch_NNN_accuracy, rows,
-- batches (rmse for a regression, limited by max = { rmse = N }). The build
-- fails when the latest batch is below min.accuracy. Output metrics.json.
--
-- beat = ":champion" scores that model (the one deployed) on the same rows
-- too, and fails unless this one (the challenger) does better over all of
-- them: champion/challenger before a rollout.
--
-- below = { accuracy = F } turns the check around, a trigger for
-- retraining: the step succeeds only when the latest batch is below F.
-- effect = true (see docs/guide.md) keeps it, and what depends on it, out
-- of a plain build and kiln verify. See docs/deploy.md, "Retraining".

local check, check_args, check_table = kiln.args.check, kiln.args.check_args, kiln.args.check_table
local metric = { check.number, "a number" }

local spec = {
  model = { check.target, 'a ":model" target (or a select)' },
  data = { check.string, 'a folder or a glob of CSV files, as in "feedback/*.csv"' },
  min = { function(v) return type(v) == "table" end, "a table { accuracy = F }" },
  max = { function(v) return type(v) == "table" end, "a table { rmse = F }" },
  below = { function(v) return type(v) == "table" end, "a table { accuracy = F }" },
  effect = { check.bool, "true or false" },
  beat = { check.target, 'a ":model" target to beat on the same rows (the champion)' },
  resources = { function(v) return type(v) == "table" end, "a table" },
}

function monitor(name)
  return function(args)
    check_args("monitor", name, args, spec, { "model", "data" })
    check_table("monitor", name, "min", args.min or {}, { accuracy = metric })
    check_table("monitor", name, "max", args.max or {}, { rmse = metric })
    check_table("monitor", name, "below", args.below or {}, { accuracy = metric })
    kiln.target {
      name = name,
      plugin = "monitor",
      inputs = { model = args.model, data = args.data, beat = args.beat },
      params = { min = args.min, max = args.max, below = args.below },
      outputs = { "metrics.json" },
      resources = args.resources,
      env = { "OPENBLAS_CORETYPE" },
      effect = args.effect,
    }
  end
end
