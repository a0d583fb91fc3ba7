-- kiln.args: the argument checks the rules share, loaded before them (this
-- file's name sorts first). A repository's own rules may use them too:
--
--   local a = kiln.args
--   a.check_args("myrule", name, args, { epochs = { a.check.positive_int, "a positive integer" } }, { "epochs" })
--
-- check_args(rule, name, args, spec, required) fails, at the Kilnfile line
-- that called the rule, on an unknown field, a field whose test is false
-- ("field 'f': expected WHAT, got VALUE") or a missing required one;
-- check_table does the same for a nested table's fields (parent.field).

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
-- Another target, as ":name".
function check.target(v) return type(v) == "string" and v:sub(1, 1) == ":" and #v > 1 end
-- An OCI repository name: lower-case alphanumeric components joined by
-- '/', with '.', '_', '__' or runs of '-' inside a component; 255
-- characters at most. The package and deploy plugins test it again in C
-- (kp_oci_valid_name in plugins/lib/oci.c).
function check.repository(s)
  if type(s) ~= "string" or s == "" or #s > 255 then return false end
  for comp in (s .. "/"):gmatch("(.-)/") do
    if comp == "" or not comp:match("^[a-z0-9]") or not comp:match("[a-z0-9]$") then return false end
    local rest = comp:gsub("__", "."):gsub("%-+", ".")
    if rest:match("[^a-z0-9._]") or rest:match("[._][._]") then return false end
  end
  return true
end
-- An OCI tag: up to 128 of A-Z a-z 0-9 _ . -, not starting with '.' or '-'.
function check.tag(s)
  return type(s) == "string" and #s >= 1 and #s <= 128 and s:match("^[A-Za-z0-9_][A-Za-z0-9_.-]*$") ~= nil
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

kiln.args = {
  describe = describe,
  bad = bad,
  check = check,
  check_args = check_args,
  check_table = check_table,
}
