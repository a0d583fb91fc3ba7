-- dataset: validate a CSV data set (the validate plugin) and pass it on.
--
--   dataset "loans" {
--     source = "data/loans.csv",
--     schema = { income = { type = "int", min = 0 }, group = { enum = {"A","B"} } },
--     max_null_fraction = 0,
--   }
--
-- Outputs data.csv (the validated bytes) and report.json. See docs/rules.md.

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

local column_spec = {
  type = { check.one_of("int", "float", "string", "bool"), '"int", "float", "string" or "bool"' },
  enum = { function(v) return type(v) == "table" and #v > 0 and check.list_of(function(x)
    return type(x) == "string" or type(x) == "number" or type(x) == "boolean" end)(v) end,
    "a non-empty list of values" },
  min = { check.number, "a number" },
  max = { check.number, "a number" },
  max_null_fraction = { check.range(0, 1), "a fraction in [0, 1]" },
}

local spec = {
  source = { check.string, "a CSV path or a \":target\"" },
  schema = { function(v) return type(v) == "table" end, "a table of column = { ... }" },
  max_null_fraction = { check.range(0, 1), "a fraction in [0, 1]" },
  duplicates = { check.one_of("allow", "error"), '"allow" or "error"' },
  rows = { function(v) return type(v) == "table" end, "a table { min = N, max = N }" },
  balance = { function(v) return type(v) == "table" end, "a table { column = \"name\", min_fraction = F }" },
  drift = { function(v) return type(v) == "table" end, "a table { reference = \"path\", method = \"psi\", max = F }" },
  resources = { function(v) return type(v) == "table" end, "a table" },
}

function dataset(name)
  return function(args)
    check_args("dataset", name, args, spec, { "source" })
    for col, s in pairs(args.schema or {}) do
      if type(col) ~= "string" or type(s) ~= "table" then
        kiln.fail(string.format("dataset '%s': field 'schema': expected column = { ... }, got %s",
          name, describe(col)))
      end
      check_table("dataset", name, "schema." .. col, s, column_spec)
    end
    check_table("dataset", name, "rows", args.rows or {}, {
      min = { check.nonneg_int, "a row count" }, max = { check.nonneg_int, "a row count" } })
    check_table("dataset", name, "balance", args.balance or {}, {
      column = { check.string, "a column name" },
      min_fraction = { check.range(0, 1), "a fraction in [0, 1]" } })
    if args.balance and not args.balance.column then
      kiln.fail(string.format("dataset '%s': field 'balance.column' is required", name))
    end
    local drift, inputs = nil, { data = args.source }
    if args.drift then
      check_table("dataset", name, "drift", args.drift, {
        reference = { check.string, "a CSV path or a \":target\"" },
        method = { check.one_of("psi", "ks"), '"psi" or "ks"' },
        max = { check.positive, "a positive number" },
        columns = { check.list_of(check.string), "a list of column names" } })
      if not args.drift.reference then
        kiln.fail(string.format("dataset '%s': field 'drift.reference' is required", name))
      end
      inputs.reference = args.drift.reference
      drift = { method = args.drift.method, max = args.drift.max, columns = args.drift.columns }
    end
    kiln.target {
      name = name,
      plugin = "validate",
      inputs = inputs,
      params = {
        schema = args.schema, max_null_fraction = args.max_null_fraction,
        duplicates = args.duplicates, rows = args.rows, balance = args.balance,
        drift = drift,
      },
      outputs = { "data.csv", "report.json" },
      resources = args.resources,
    }
  end
end
