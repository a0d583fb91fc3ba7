-- container: a model and kiln-serve as a reproducible OCI image (the package
-- plugin).
--
--   container "iris_image" { model = ":iris_model", name = "iris", tag = "1" }
--
-- Optional: metrics = ":iris_test" (its metrics.json numbers become image
-- labels), port = 8080 (where the server listens in the container), labels
-- = { key = "value" }. Outputs oci/ (an OCI image layout), image.tar (for
-- docker load, podman load, skopeo) and image.json (digest, size, layers).


local function is_target(v) return type(v) == "string" and v:sub(1, 1) == ":" and #v > 1 end

-- An OCI repository name: lower-case alphanumeric components joined by
-- '/', with '.', '_', '__' or runs of '-' inside a component.
local function valid_name(s)
  if type(s) ~= "string" or s == "" or #s > 255 then return false end
  for comp in (s .. "/"):gmatch("(.-)/") do
    if comp == "" or not comp:match("^[a-z0-9]") or not comp:match("[a-z0-9]$") then return false end
    local rest = comp:gsub("__", "."):gsub("%-+", ".")
    if rest:match("[^a-z0-9._]") or rest:match("[._][._]") then return false end
  end
  return true
end

local function valid_tag(s)
  return type(s) == "string" and #s >= 1 and #s <= 128 and s:match("^[A-Za-z0-9_][A-Za-z0-9_.-]*$") ~= nil
end

local spec = {
  model = { is_target, 'a ":model" target' },
  metrics = { is_target, 'a ":test" target whose metrics.json becomes labels' },
  name = { valid_name, "an image name: lower-case letters and digits, separated by '.', '_', '__' or '-', components joined by '/'" },
  tag = { valid_tag, "a tag: up to 128 of A-Z a-z 0-9 _ . -, not starting with '.' or '-'" },
  port = { function(v) return math.type(v) == "integer" and v >= 1 and v <= 65535 end, "a port from 1 to 65535" },
  labels = { function(v)
    if type(v) ~= "table" then return false end
    for k, x in pairs(v) do if type(k) ~= "string" or type(x) ~= "string" then return false end end
    return true
  end, "a table of name = \"value\" strings" },
}

function container(name)
  return function(args)
    kiln.args.check_args("container", name, args, spec, { "model", "name", "tag" })
    kiln.target {
      name = name,
      plugin = "package",
      inputs = { model = args.model, metrics = args.metrics },
      params = { name = args.name, tag = args.tag, port = args.port, labels = args.labels },
      outputs = { "oci", "image.tar", "image.json" },
    }
  end
end
