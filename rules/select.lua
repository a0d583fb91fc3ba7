-- select: choose the best of several candidate models by a metric of their
-- tests (the select plugin).
--
--   select "best" {
--     candidates = { { model = ":m1", test = ":t1" }, { model = ":m2", test = ":t2" } },
--     by = "accuracy", goal = "max",
--   }
--
-- Outputs the chosen model's model.safetensors, model.json and
-- history.json, so container, serve, deploy and test take a select as
-- they take a model, and selection.json: the winner and every candidate's
-- value. Candidates are soft inputs: one whose model or test failed is
-- left out, and the build goes on without it; the select fails only when
-- no candidate is left. Ties go to the earlier candidate. A test with
-- validation metrics (features with split.validation) is ranked on them.
-- See docs/rules.md and docs/experiments.md.
--
-- Lua's own select('#', ...) and select(n, ...) still work: a target name
-- is never '#' or a number.

local check, check_args = kiln.args.check, kiln.args.check_args
local lua_select = select

local candidate_spec = {
  model = { check.target, 'a ":model" target' },
  test = { check.target, 'a ":test" target of that model' },
}

local spec = {
  candidates = { function(v) return check.list_of(function(c) return type(c) == "table" end)(v) and #v > 0 end,
    "a non-empty list of { model = \":m\", test = \":t\" }" },
  by = { check.string, "a metric name, as in \"accuracy\"" },
  goal = { check.one_of("max", "min"), '"max" or "min"' },
  resources = { function(v) return type(v) == "table" end, "a table" },
}

function select(name, ...)
  if name == "#" or type(name) == "number" then return lua_select(name, ...) end
  return function(args)
    check_args("select", name, args, spec, { "candidates", "by" })
    local inputs, soft, cands = {}, {}, {}
    for i, c in ipairs(args.candidates) do
      kiln.args.check_table("select", name, "candidates[" .. i .. "]", c, candidate_spec)
      for _, k in ipairs({ "model", "test" }) do
        if not c[k] then
          kiln.fail(("select '%s': field 'candidates[%d].%s' is required"):format(name, i, k))
        end
        inputs[k .. i] = c[k]
        soft[#soft + 1] = k .. i
      end
      cands[i] = { model = c.model, test = c.test }
    end
    kiln.target {
      name = name,
      plugin = "select",
      inputs = inputs,
      soft = soft,
      params = { candidates = cands, by = args.by, goal = args.goal or "max" },
      outputs = { "model.safetensors", "model.json", "history.json", "selection.json" },
      resources = args.resources,
    }
  end
end
