-- container: a model and kiln-serve as a reproducible OCI image (the package
-- plugin).
--
--   container "iris_image" { model = ":iris_model", name = "iris", tag = "1" }
--
-- Optional: metrics = ":iris_test" (its metrics.json numbers become image
-- labels), port = 8080 (where the server listens in the container), labels
-- = { key = "value" }. Outputs oci/ (an OCI image layout), image.tar (for
-- docker load, podman load, skopeo) and image.json (digest, size, layers).

local check = kiln.args.check

local spec = {
  model = { check.target, 'a ":model" target' },
  metrics = { check.target, 'a ":test" target whose metrics.json becomes labels' },
  name = { check.repository, "an image name: lower-case letters and digits, separated by '.', '_', '__' or '-', components joined by '/'" },
  tag = { check.tag, "a tag: up to 128 of A-Z a-z 0-9 _ . -, not starting with '.' or '-'" },
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
