-- features: turn a CSV data set into NPY matrices (the featurize plugin).
--
--   features "loans_feat" {
--     data = ":loans", label = "approved", group = "group",
--     scale = "standard", onehot = {"group"},
--     split = { test = 0.2, seed = 42, stratify = true },
--   }
--
-- Outputs X_train.npy, y_train.npy, X_test.npy, y_test.npy, transform.json,
-- plus group_test.npy with a group and w_train.npy with reweigh = true.

-- Argument checks shared by the ML rules (each rule file carries its own
-- copy: rule files run one by one and none may rely on another's order).
local function describe(v)
  if type(v) == "string" then return string.format("%q", v) end
  if type(v) == "table" then return "a table" end
  return tostring(v)
end

local function bad(rule, name, field, want, got)
  kiln.fail(string.format("%s '%s': field '%s': expected %s, got %s",
    rule, name, field, want, describe(got)))
end

local check = {}

function check.string(v) return type(v) == "string" and v ~= "" end
function check.bool(v) return type(v) == "boolean" end
function check.number(v) return type(v) == "number" and v == v and v > -math.huge and v < math.huge end
function check.positive_int(v) return math.type(v) == "integer" and v > 0 end
function check.nonneg_int(v) return math.type(v) == "integer" and v >= 0 end
function check.positive(v) return check.number(v) and v > 0 end
function check.nonneg(v) return check.number(v) and v >= 0 end
function check.list_of(f)
  return function(v)
    if type(v) ~= "table" then return false end
    local n = 0
    for k, x in pairs(v) do
      n = n + 1
      if math.type(k) ~= "integer" or not f(x) then return false end
    end
    return n == #v
  end
end
function check.one_of(...)
  local set = {}
  for _, s in ipairs({...}) do set[s] = true end
  return function(v) return set[v] == true end
end
function check.range(lo, hi)
  return function(v) return check.number(v) and v >= lo and v <= hi end
end

-- Check args against spec (field = { test, "what it expects" }); unknown
-- fields and missing required ones are errors naming the target and field.
local function check_args(rule, name, args, spec, required)
  if type(name) ~= "string" or name == "" then
    kiln.fail(string.format("%s: expected a target name, as in %s \"name\" { ... }", rule, rule))
  end
  if type(args) ~= "table" then
    kiln.fail(string.format("%s '%s': expected a table of fields, got %s", rule, name, describe(args)))
  end
  local keys = {}
  for k in pairs(args) do keys[#keys + 1] = tostring(k) end
  table.sort(keys)
  for _, k in ipairs(keys) do
    local s = spec[k]
    if not s then
      kiln.fail(string.format("%s '%s': unknown field '%s'", rule, name, k))
    end
    if not s[1](args[k]) then bad(rule, name, k, s[2], args[k]) end
  end
  for _, k in ipairs(required or {}) do
    if args[k] == nil then
      kiln.fail(string.format("%s '%s': field '%s' is required", rule, name, k))
    end
  end
end

-- Check a nested table's fields the same way, as parent.field.
local function check_table(rule, name, parent, t, spec)
  for k, v in pairs(t) do
    local s = spec[k]
    if not s then
      kiln.fail(string.format("%s '%s': unknown field '%s.%s'", rule, name, parent, tostring(k)))
    end
    if not s[1](v) then bad(rule, name, parent .. "." .. tostring(k), s[2], v) end
  end
end

local strings = check.list_of(check.string)

local spec = {
  data = { check.string, "a CSV path or a \":dataset\" target" },
  label = { check.string, "the label column's name" },
  group = { check.string, "a column name" },
  features = { strings, "a list of column names" },
  drop = { strings, "a list of column names" },
  onehot = { strings, "a list of column names" },
  scale = { check.one_of("standard", "minmax", "none"), '"standard", "minmax" or "none"' },
  split = { function(v) return type(v) == "table" end, "a table { test = F, seed = N, stratify = B }" },
  task = { check.one_of("classification", "regression"), '"classification" or "regression"' },
  dropna = { check.bool, "a boolean" },
  where = { function(v) return type(v) == "table" end, "a table of column = value" },
  reweigh = { check.bool, "a boolean" },
  resources = { function(v) return type(v) == "table" end, "a table" },
}

function features(name)
  return function(args)
    check_args("features", name, args, spec, { "data", "label" })
    check_table("features", name, "split", args.split or {}, {
      test = { check.range(0.01, 0.9), "a fraction in [0.01, 0.9]" },
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
    local outputs = { "X_train.npy", "y_train.npy", "X_test.npy", "y_test.npy", "transform.json" }
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
