-- features: turn a CSV data set into NPY matrices (the featurize plugin).
--
--   features "loans_feat" {
--     data = ":loans", label = "approved", group = "group",
--     scale = "standard", onehot = {"group"},
--     split = { test = 0.2, seed = 42, stratify = true },
--   }
--
-- Outputs X_train.npy, y_train.npy, X_test.npy, y_test.npy, transform.json,
-- plus group_test.npy with a group, w_train.npy with reweigh = true, and
-- X_val.npy, y_val.npy with split.validation (a share held out of training
-- for choosing among models; the test rows stay those without it).
--
-- New data through the training features' fitted transform:
--
--   features "fresh_feat" { data = ":fresh", transform = ":train_feat" }
--
-- fits nothing: the columns, one-hot vocabularies, classes and scaling are
-- train_feat's (a new category or a missing column is an error naming it);
-- every row is a test row. Outputs X_test.npy, y_test.npy, transform.json
-- (train_feat's, unchanged) and group_test.npy with group. Only label, group
-- (checked against the transform's), where and dropna may be given.

-- The shared argument checks (rules/_args.lua).
local describe, check, check_args, check_table =
  kiln.args.describe, kiln.args.check, kiln.args.check_args, kiln.args.check_table

local strings = check.list_of(check.string)

local spec = {
  data = { check.string, "a CSV path or a \":dataset\" target" },
  label = { check.string, "the label column's name" },
  group = { check.string, "a column name" },
  features = { strings, "a list of column names" },
  drop = { strings, "a list of column names" },
  onehot = { strings, "a list of column names" },
  scale = { check.one_of("standard", "minmax", "none"), '"standard", "minmax" or "none"' },
  split = { function(v) return type(v) == "table" end, "a table { test = F, validation = F, seed = N, stratify = B }" },
  task = { check.one_of("classification", "regression"), '"classification" or "regression"' },
  dropna = { check.bool, "a boolean" },
  where = { function(v) return type(v) == "table" end, "a table of column = value" },
  reweigh = { check.bool, "a boolean" },
  resources = { function(v) return type(v) == "table" end, "a table" },
  transform = { check.target, 'a ":features" target whose fitted transform to apply' },
}

-- What a fitted transform decides, so a features target that applies one may not set it.
local fitted = { "features", "drop", "onehot", "scale", "split", "task", "reweigh" }

local function applied(name, args)
  for _, k in ipairs(fitted) do
    if args[k] ~= nil then
      kiln.fail(string.format("features '%s': field '%s': the transform's is used (transform = %q)",
        name, k, args.transform))
    end
  end
  local outputs = { "X_test.npy", "y_test.npy", "transform.json" }
  if args.group then outputs[#outputs + 1] = "group_test.npy" end
  kiln.target {
    name = name,
    plugin = "featurize",
    inputs = { data = args.data, transform = args.transform },
    params = { label = args.label, group = args.group, where = args.where, dropna = args.dropna },
    outputs = outputs,
    resources = args.resources,
  }
end

function features(name)
  return function(args)
    if type(args) == "table" and args.transform ~= nil then
      check_args("features", name, args, spec, { "data" })
      return applied(name, args)
    end
    check_args("features", name, args, spec, { "data", "label" })
    check_table("features", name, "split", args.split or {}, {
      test = { check.range(0.01, 0.9), "a fraction in [0.01, 0.9]" },
      validation = { check.range(0.01, 0.9), "a fraction in [0.01, 0.9]" },
      seed = { check.nonneg_int, "a non-negative integer" },
      stratify = { check.bool, "a boolean" } })
    for k, v in pairs(args.where or {}) do
      if type(k) ~= "string" or (type(v) ~= "string" and type(v) ~= "number") then
        kiln.fail(string.format("features '%s': field 'where': expected column = value, got %s",
          name, describe(k)))
      end
    end
    if args.reweigh and not args.group then
      kiln.fail(string.format("features '%s': field 'reweigh': needs a group column", name))
    end
    local split = args.split or {}
    if split.validation and (split.test or 0.2) + split.validation > 0.9 then
      kiln.fail(string.format("features '%s': field 'split': test and validation shares add up to %g; at most 0.9",
        name, (split.test or 0.2) + split.validation))
    end
    local outputs = { "X_train.npy", "y_train.npy", "X_test.npy", "y_test.npy", "transform.json" }
    if split.validation then
      outputs[#outputs + 1] = "X_val.npy"
      outputs[#outputs + 1] = "y_val.npy"
    end
    if args.group then outputs[#outputs + 1] = "group_test.npy" end
    if args.reweigh then outputs[#outputs + 1] = "w_train.npy" end
    local params = {}
    for k, v in pairs(args) do
      if k ~= "data" and k ~= "resources" then params[k] = v end
    end
    kiln.target {
      name = name,
      plugin = "featurize",
      inputs = { data = args.data },
      params = params,
      outputs = outputs,
      resources = args.resources,
    }
  end
end
