-- model: train a model on a features target (the train plugin).
--
--   model "digits_mlp" { features = ":digits_feat", algorithm = "mlp", hidden = {64} }
--
-- algorithm: "ridge", "logistic", "softmax" or "mlp". Outputs
-- model.safetensors, model.json and history.json. checkpoint = true keeps a
-- checkpoint every checkpoint_every epochs (default a twentieth of them), so
-- an interrupted training resumes, to the same bytes.

-- The shared argument checks (rules/_args.lua).
local describe, check, check_args, check_table =
  kiln.args.describe, kiln.args.check, kiln.args.check_args, kiln.args.check_table

local spec = {
  features = { check.string, "a \":features\" target" },
  algorithm = { check.one_of("ridge", "logistic", "softmax", "mlp"),
    '"ridge", "logistic", "softmax" or "mlp"' },
  hidden = { function(v) return check.list_of(check.positive_int)(v) and #v >= 1 and #v <= 8 end,
    "a list of 1 to 8 positive layer sizes" },
  epochs = { check.positive_int, "a positive integer" },
  lr = { check.positive, "a positive number" },
  l2 = { check.nonneg, "a number >= 0" },
  batch_size = { check.positive_int, "a positive integer" },
  validation = { check.range(0, 0.9), "a fraction in [0, 0.9]" },
  patience = { check.positive_int, "a positive integer" },
  seed = { check.nonneg_int, "a non-negative integer" },
  threads = { check.positive_int, "a positive integer" },
  resources = { function(v) return type(v) == "table" end, "a table" },
  checkpoint = { check.bool, "true or false" },
  checkpoint_every = { check.positive_int, "a positive integer" },
}

function model(name)
  return function(args)
    check_args("model", name, args, spec, { "features", "algorithm" })
    if args.hidden and args.algorithm ~= "mlp" then
      kiln.fail(string.format("model '%s': field 'hidden': only algorithm \"mlp\" has hidden layers", name))
    end
    local params, resources = {}, {}
    for k, v in pairs(args) do
      if k ~= "features" and k ~= "resources" and k ~= "threads" and k ~= "checkpoint" then params[k] = v end
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
      -- OpenBLAS picks its kernels from this variable, and the kernels
      -- decide the last bits of every product: the key must see it.
      env = { "OPENBLAS_CORETYPE" },
    }
  end
end
