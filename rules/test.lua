-- test: evaluate a model on its features' test split (the test plugin), and
-- fail the build when a metric or a fairness measure crosses a limit.
--
--   test "loans_gate" {
--     model = ":loans_lr", features = ":loans_feat",
--     min = { accuracy = 0.70, roc_auc = 0.75 },
--     fairness = { max_gap = { accuracy = 0.05 }, max_demographic_parity_diff = 0.10 },
--   }
--
-- Outputs metrics.json.

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
    kiln.target {
      name = name,
      plugin = "test",
      inputs = { model = args.model, features = args.features },
      params = { min = args.min, max = args.max, fairness = args.fairness },
      outputs = { "metrics.json" },
      resources = args.resources,
      -- OpenBLAS picks its kernels from this variable, and the kernels
      -- decide the last bits of every product: the key must see it.
      env = { "OPENBLAS_CORETYPE" },
    }
  end
end
