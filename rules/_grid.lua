-- kiln.grid: every combination of some parameters' values, for a sweep.
--
--   for _, v in ipairs(kiln.grid { lr = { 0.05, 0.1 }, l2 = { 0.001, 0.01 } }) do
--     model(v:name("iris_sm")) (v:with { features = ":iris_feat", algorithm = "softmax" })
--   end
--
-- A variant holds its values (v.lr, v.l2) and three methods:
--   v:name(base)   "base@l2=0.001,lr=0.05": a target name, the same every
--                  time for the same values
--   v:with(t)      a copy of t with the variant's values added (a field set
--                  in both is an error)
--   v:params()     the values as a plain table
-- The keys are taken in sorted order and the first one varies slowest;
-- values in the order given. A value is a number, a string of letters,
-- digits, '_', '.' and '-', a boolean, or a list of those (written joined
-- by '_' in the name: hidden = {64, 32} is "hidden=64_32"). See
-- docs/experiments.md.

local describe = kiln.args.describe
local methods = {}

local function text(v)
  if math.type(v) == "integer" or type(v) == "boolean" then return tostring(v) end
  if type(v) == "number" then
    return (v == v and v > -math.huge and v < math.huge) and tostring(v) or nil
  end
  if type(v) == "string" then return v:match("^[%w_.%-]+$") and v or nil end
  return nil
end

-- How v is written in a variant's name, or nil when it cannot be.
local function shown(v)
  if type(v) ~= "table" then return text(v) end
  if #v == 0 then return nil end
  local parts = {}
  for i, x in ipairs(v) do
    parts[i] = text(x)
    if not parts[i] then return nil end
  end
  return table.concat(parts, "_")
end

local function check_spec(spec)
  if type(spec) ~= "table" then
    kiln.fail("kiln.grid: expected a table of name = { values }, got " .. describe(spec))
  end
  local keys = {}
  for k, vals in pairs(spec) do
    if type(k) ~= "string" or not k:match("^[%a_][%w_]*$") then
      kiln.fail("kiln.grid: a key must be a name of letters, digits and '_', got " .. describe(k))
    end
    if methods[k] then
      kiln.fail(("kiln.grid: '%s' is a variant's method; rename the key"):format(k))
    end
    if not kiln.args.check.list_of(function() return true end)(vals) or #vals == 0 then
      kiln.fail(("kiln.grid: '%s': expected a non-empty list of values, got %s"):format(k, describe(vals)))
    end
    for i, v in ipairs(vals) do
      if not shown(v) then
        kiln.fail(("kiln.grid: '%s' value %d: expected a number, a boolean, a string of letters, digits, '_', '.' and '-', or a list of those, got %s")
          :format(k, i, describe(v)))
      end
    end
    keys[#keys + 1] = k
  end
  if #keys == 0 then kiln.fail("kiln.grid: expected at least one parameter") end
  table.sort(keys)
  return keys
end

function kiln.grid(spec)
  local keys = check_spec(spec)
  local out, seen = { {} }, {}
  for _, k in ipairs(keys) do
    local next_out = {}
    for _, partial in ipairs(out) do
      for _, v in ipairs(spec[k]) do
        local c = {}
        for pk, pv in pairs(partial) do c[pk] = pv end
        c[k] = v
        next_out[#next_out + 1] = c
      end
    end
    out = next_out
  end
  for i, c in ipairs(out) do
    local parts = {}
    for j, k in ipairs(keys) do parts[j] = k .. "=" .. shown(c[k]) end
    local suffix = table.concat(parts, ",")
    if seen[suffix] then
      kiln.fail(("kiln.grid: two combinations are both written '%s'; make the values distinct"):format(suffix))
    end
    seen[suffix] = true
    -- Each variant's own metatable keeps its name and keys beside its
    -- values, so that pairs(v) yields the values only.
    out[i] = setmetatable(c, { __index = methods, suffix = suffix, keys = keys })
  end
  return out
end

local function fields(v) return getmetatable(v) end

function methods.name(v, base)
  if type(base) ~= "string" or base == "" then
    kiln.fail("variant:name(base): expected a target name, got " .. describe(base))
  end
  return base .. "@" .. fields(v).suffix
end

function methods.params(v)
  local p = {}
  for _, k in ipairs(fields(v).keys) do p[k] = v[k] end
  return p
end

function methods.with(v, t)
  if type(t) ~= "table" then
    kiln.fail("variant:with(fields): expected a table, got " .. describe(t))
  end
  local r = {}
  for k, x in pairs(t) do r[k] = x end
  for _, k in ipairs(fields(v).keys) do
    if r[k] ~= nil then
      kiln.fail(("variant:with: field '%s' is set both by the grid and in the table"):format(k))
    end
    r[k] = v[k]
  end
  return r
end
