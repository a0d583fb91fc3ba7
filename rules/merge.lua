-- join and concat: merge CSV sources or targets' CSV outputs (the merge
-- plugin), streaming, into one data.csv that a dataset can validate.
--
--   join "all" { left = ":wine", right = "data/labels.csv", on = "id", how = "inner" }
--   concat "all" { parts = { ":a", "data/b.csv" } }
--
-- join: the left's columns, then the right's but its key; how = "inner"
-- keeps the left rows whose key the right has, "left" keeps every left row
-- (the right's fields empty where it has none). The right side must hold
-- each key once, and is held in memory (max_memory bytes at most, default
-- 1 GiB): put the larger table on the left, which streams.
-- concat: the rows of every part, in order, under the same columns.
-- See docs/rules.md and docs/data.md.

local check, check_args = kiln.args.check, kiln.args.check_args

local join_spec = {
  left = { check.string, "a CSV path or a \":target\"" },
  right = { check.string, "a CSV path or a \":target\"" },
  on = { check.string, "the name of the key column" },
  how = { check.one_of("inner", "left"), '"inner" or "left"' },
  max_memory = { check.positive_int, "a number of bytes" },
  resources = { function(v) return type(v) == "table" end, "a table" },
}

function join(name)
  return function(args)
    check_args("join", name, args, join_spec, { "left", "right", "on" })
    kiln.target {
      name = name,
      plugin = "merge",
      inputs = { left = args.left, right = args.right },
      params = { mode = "join", on = args.on, how = args.how, max_memory = args.max_memory },
      outputs = { "data.csv" },
      resources = args.resources,
    }
  end
end

local concat_spec = {
  parts = { function(v) return type(v) == "table" and #v > 0 and check.list_of(check.string)(v) end,
    "a non-empty list of CSV paths or \":target\"s" },
  resources = { function(v) return type(v) == "table" end, "a table" },
}

function concat(name)
  return function(args)
    check_args("concat", name, args, concat_spec, { "parts" })
    local inputs = {}
    for i, p in ipairs(args.parts) do
      -- Named so that the plugin, which sees inputs sorted by name, reads them in order.
      inputs[string.format("part%04d", i)] = p
    end
    kiln.target {
      name = name,
      plugin = "merge",
      inputs = inputs,
      params = { mode = "concat" },
      outputs = { "data.csv" },
      resources = args.resources,
    }
  end
end
