-- deploy: push a container target's image to an OCI registry and write
-- Kubernetes manifests pinned to its digest (the deploy plugin).
--
--   deploy "iris_prod" {
--     image = ":iris_image", registry = "127.0.0.1:5000/iris",
--     manifests = "deploy/", after = { ":iris_gate" },
--   }
--
-- Runs only once every `after` target has built and passed. Optional: tag
-- (default the image's), replicas (default 1), app (the Kubernetes name;
-- default the repository's last component). `kiln build` pushes and keeps
-- the manifests in kiln-out/<name>/manifests/; `kiln deploy <name>` also
-- copies them into `manifests` and records the deployment in
-- .kiln/deployments (see docs/deploy.md). Credentials: KILN_REGISTRY_TOKEN,
-- or KILN_REGISTRY_USER and KILN_REGISTRY_PASSWORD.

local check = kiln.args.check

-- [http(s)://]HOST[:PORT]/REPOSITORY
local function valid_registry(s)
  if type(s) ~= "string" then return false end
  local rest = s:gsub("^https?://", "", 1)
  if rest:find("://", 1, true) then return false end
  local host, repo = rest:match("^([^/]+)/(.+)$")
  if not host then return false end
  local h, port = host:match("^(.-):(%d+)$")
  if h then
    host = h
    if tonumber(port) < 1 or tonumber(port) > 65535 then return false end
  end
  if host == "" or host:match("[^%w%.%-]") then return false end
  return check.repository(repo)
end

local function valid_dir(s)
  return type(s) == "string" and s ~= "" and s:sub(1, 1) ~= "/" and
    not (("/" .. s .. "/"):find("/../", 1, true))
end

local spec = {
  image = { check.target, 'a ":container" target' },
  registry = { valid_registry, 'a registry and repository, as in "127.0.0.1:5000/iris" or "https://registry.example/team/iris"' },
  manifests = { valid_dir, "a folder inside the workspace, as in \"deploy/\"" },
  after = { check.list_of(check.target), 'a list of ":target"s that must pass first' },
  tag = { check.tag, "a tag: up to 128 of A-Z a-z 0-9 _ . -, not starting with '.' or '-'" },
  replicas = { function(v) return math.type(v) == "integer" and v >= 0 and v <= 1000 end, "an integer from 0 to 1000" },
  app = { function(v) return type(v) == "string" and #v <= 63 and v:match("^[a-z0-9]([a-z0-9-]*[a-z0-9])?$") ~= nil end,
    "a Kubernetes name: lower-case letters, digits and '-'" },
}

function deploy(name)
  return function(args)
    kiln.args.check_args("deploy", name, args, spec, { "image", "registry", "manifests" })
    local inputs = { image = args.image }
    for i, t in ipairs(args.after or {}) do inputs["after" .. i] = t end
    kiln.target {
      name = name,
      plugin = "deploy",
      inputs = inputs,
      params = { registry = args.registry, manifests = args.manifests, tag = args.tag,
        replicas = args.replicas, app = args.app },
      outputs = { "manifests", "push.json" },
      env = { "KILN_REGISTRY_USER", "KILN_REGISTRY_PASSWORD", "KILN_REGISTRY_TOKEN" },
      network = true,
    }
  end
end
