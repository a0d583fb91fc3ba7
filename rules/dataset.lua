-- dataset: validate a CSV data set (the validate plugin) and pass it on.
--
--   dataset "loans" {
--     source = "data/loans.csv",
--     schema = { income = { type = "int", min = 0 }, group = { enum = {"A","B"} } },
--     max_null_fraction = 0,
--   }
--
-- Outputs data.csv (the validated bytes) and report.json. See docs/rules.md.

-- The shared argument checks (rules/_args.lua).
local describe, check, check_args, check_table =
  kiln.args.describe, kiln.args.check, kiln.args.check_args, kiln.args.check_table

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
