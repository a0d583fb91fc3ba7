-- model: train a model on a features target (the train plugin).
--
--   model "digits_mlp" { features = ":digits_feat", algorithm = "mlp", hidden = {64} }
--
-- algorithm: "ridge", "logistic", "softmax" or "mlp". Outputs
-- model.safetensors, model.json and history.json.

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
}

function model(name)
  return function(args)
    check_args("model", name, args, spec, { "features", "algorithm" })
    if args.hidden and args.algorithm ~= "mlp" then
      kiln.fail(string.format("model '%s': field 'hidden': only algorithm \"mlp\" has hidden layers", name))
    end
    local params, resources = {}, {}
    for k, v in pairs(args) do
      if k ~= "features" and k ~= "resources" and k ~= "threads" then params[k] = v end
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
      -- OpenBLAS picks its kernels from this variable, and the kernels
      -- decide the last bits of every product: the key must see it.
      env = { "OPENBLAS_CORETYPE" },
    }
  end
end
