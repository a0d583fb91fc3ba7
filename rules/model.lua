-- model: train a model on a features target (the train plugin).
--
--   model "digits_mlp" { features = ":digits_feat", algorithm = "mlp", hidden = {64} }
--   model "loans_gbdt" { features = ":loans_feat", algorithm = "gbdt", trees = 200, depth = 4 }
--   model "loans_lgb" { features = ":loans_feat", algorithm = "gbdt", leaves = 31 }
--
-- algorithm: "ridge", "logistic", "softmax" (by L-BFGS, or solver = "adam"),
-- "mlp" or "gbdt" (gradient-
-- boosted trees: trees, depth or leaves (leaf-wise growth), lr, l2, min_child_weight, subsample,
-- colsample, seed, validation/patience for early stopping). Outputs
-- model.safetensors, model.json and history.json. checkpoint = true keeps a
-- checkpoint every checkpoint_every epochs (default a twentieth of them), so
-- an interrupted Adam training resumes, to the same bytes; checkpoint_upload
-- = "10m" sends the checkpoint to the remote cache that often.

-- The shared argument checks (rules/_args.lua).
local describe, check, check_args, check_table =
  kiln.args.describe, kiln.args.check, kiln.args.check_args, kiln.args.check_table

local spec = {
  features = { check.string, "a \":features\" target" },
  algorithm = { check.one_of("ridge", "logistic", "softmax", "mlp", "gbdt"),
    '"ridge", "logistic", "softmax", "mlp" or "gbdt"' },
  hidden = { function(v) return check.list_of(check.positive_int)(v) and #v >= 1 and #v <= 8 end,
    "a list of 1 to 8 positive layer sizes" },
  epochs = { check.positive_int, "a positive integer" },
  lr = { check.positive, "a positive number" },
  l2 = { check.nonneg, "a number >= 0" },
  batch_size = { check.positive_int, "a positive integer" },
  validation = { check.range(0, 0.9), "a fraction in [0, 0.9]" },
  patience = { check.positive_int, "a positive integer" },
  tol = { check.nonneg, "a number >= 0" },
  seed = { check.nonneg_int, "a non-negative integer" },
  solver = { check.one_of("lbfgs", "adam"), '"lbfgs" or "adam"' },
  trees = { check.positive_int, "a positive integer" },
  depth = { function(v) return math.type(v) == "integer" and v >= 1 and v <= 16 end,
    "an integer in [1, 16]" },
  leaves = { function(v) return math.type(v) == "integer" and v >= 2 and v <= 65536 end,
    "an integer in [2, 65536]" },
  min_child_weight = { check.nonneg, "a number >= 0" },
  subsample = { function(v) return check.number(v) and v > 0 and v <= 1 end, "a fraction in (0, 1]" },
  colsample = { function(v) return check.number(v) and v > 0 and v <= 1 end, "a fraction in (0, 1]" },
  threads = { check.positive_int, "a positive integer" },
  resources = { function(v) return type(v) == "table" end, "a table" },
  checkpoint = { check.bool, "true or false" },
  checkpoint_every = { check.positive_int, "a positive integer" },
  checkpoint_upload = { check.string, 'a duration such as "10m"' },
}

function model(name)
  return function(args)
    check_args("model", name, args, spec, { "features", "algorithm" })
    if args.hidden and args.algorithm ~= "mlp" then
      kiln.fail(string.format("model '%s': field 'hidden': only algorithm \"mlp\" has hidden layers", name))
    end
    if args.solver and args.algorithm ~= "logistic" and args.algorithm ~= "softmax" then
      kiln.fail(string.format("model '%s': field 'solver': only algorithms \"logistic\" and \"softmax\" have a choice of solver", name))
    end
    -- lbfgs unless said, or unless a field only Adam takes is given.
    if args.solver == "lbfgs" then
      for _, f in ipairs({ "lr", "batch_size", "validation", "patience", "tol" }) do
        if args[f] ~= nil then
          kiln.fail(string.format("model '%s': field '%s': the lbfgs solver runs on all rows to convergence; %s is Adam's", name, f, f))
        end
      end
    end
    local gbdt = args.algorithm == "gbdt"
    for _, f in ipairs({ "trees", "depth", "leaves", "min_child_weight", "subsample", "colsample", "epochs", "batch_size", "tol" }) do
      local only = f ~= "epochs" and f ~= "batch_size" and f ~= "tol"
      if args[f] ~= nil and only ~= gbdt then
        kiln.fail(string.format("model '%s': field '%s': %s", name, f, only and
          'only algorithm "gbdt" grows trees' or 'algorithm "gbdt" has no ' .. f .. ' (use trees)'))
      end
    end
    local params, resources = {}, {}
    for k, v in pairs(args) do
      if k ~= "features" and k ~= "resources" and k ~= "threads" and k ~= "checkpoint"
        and k ~= "checkpoint_upload" then params[k] = v end
    end
    for k, v in pairs(args.resources or {}) do resources[k] = v end
    resources.threads = args.threads or resources.threads or 1
    resources.cpus = resources.cpus or resources.threads
    kiln.target {
      name = name,
      plugin = "train",
      inputs = { features = args.features },
      params = params,
      outputs = { "model.safetensors", "model.json", "history.json" },
      resources = resources,
      checkpoint = args.checkpoint,
      checkpoint_upload = args.checkpoint_upload,
      -- OpenBLAS picks its kernels from this variable, and the kernels
      -- decide the last bits of every product: the key must see it.
      env = { "OPENBLAS_CORETYPE" },
    }
  end
end
