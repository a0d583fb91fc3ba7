-- deploy: push a container target's image to an OCI registry and write
-- Kubernetes manifests pinned to its digest (the deploy plugin).
--
--   deploy "iris_prod" {
--     image = ":iris_image", registry = "127.0.0.1:5000/iris",
--     manifests = "deploy/", after = { ":iris_gate" },
--   }
--
-- A side effect (effect = true): a plain `kiln build` and `kiln verify`
-- never run it; `kiln deploy <name>` (or `kiln build <name>`) does, each
-- time, after every `after` target has built and passed. Optional: tag
-- (default the image's; "{version}-{digest12}" derives it from the
-- content), replicas (default 1), app (the Kubernetes name; default the
-- repository's last component), ca (a CA bundle file for a private
-- registry's TLS), gitops = { repo, branch, path } (kiln deploy commits the
-- manifests there). A push never moves a tag to another digest without
-- `kiln deploy --force`. Credentials: KILN_REGISTRY_TOKEN, or
-- KILN_REGISTRY_USER and KILN_REGISTRY_PASSWORD, or the auth files of
-- podman, skopeo and docker (see docs/deploy.md); none of them is part of
-- any key.

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

-- A tag, or a template of one: {version} (the image's tag), {digest12}, {digest}.
local function valid_tag(s)
  if type(s) ~= "string" then return false end
  local plain = s:gsub("{version}", "v"):gsub("{digest12}", "d"):gsub("{digest}", "d")
  return check.tag(plain) and #s <= 128 + 64
end

local function valid_file(s)
  return type(s) == "string" and s ~= "" and s:sub(1, 1) ~= "/"
end

local gitops_spec = {
  repo = { check.string, 'a git repository: a URL or a path, as in "git@host:team/config.git"' },
  branch = { function(v) return type(v) == "string" and v:match("^[%w][%w._/-]*$") ~= nil and not v:find("..", 1, true) end,
    'a branch name, as in "main"' },
  path = { valid_dir, 'a folder inside that repository, as in "apps/iris"' },
}

local spec = {
  image = { check.target, 'a ":container" target' },
  registry = { valid_registry, 'a registry and repository, as in "127.0.0.1:5000/iris" or "https://registry.example/team/iris"' },
  manifests = { valid_dir, "a folder inside the workspace, as in \"deploy/\"" },
  after = { check.list_of(check.target), 'a list of ":target"s that must pass first' },
  tag = { valid_tag, "a tag: up to 128 of A-Z a-z 0-9 _ . -, not starting with '.' or '-', or a template with {version}, {digest12} or {digest}" },
  ca = { valid_file, 'a CA bundle (PEM) in the workspace, as in "certs/ca.pem"' },
  gitops = { function(v) return type(v) == "table" end, "a table { repo = ..., branch = ..., path = ... }" },
  replicas = { function(v) return math.type(v) == "integer" and v >= 0 and v <= 1000 end, "an integer from 0 to 1000" },
  app = { function(v) return type(v) == "string" and #v <= 63 and v:match("^[a-z0-9]([a-z0-9-]*[a-z0-9])?$") ~= nil end,
    "a Kubernetes name: lower-case letters, digits and '-'" },
}

function deploy(name)
  return function(args)
    kiln.args.check_args("deploy", name, args, spec, { "image", "registry", "manifests" })
    if args.gitops then
      kiln.args.check_table("deploy", name, "gitops", args.gitops, gitops_spec)
      if not args.gitops.repo then
        kiln.fail(string.format("deploy '%s': field 'gitops.repo' is required", name))
      end
    end
    local inputs = { image = args.image, ca = args.ca }
    for i, t in ipairs(args.after or {}) do inputs["after" .. i] = t end
    kiln.target {
      name = name,
      plugin = "deploy",
      inputs = inputs,
      params = { registry = args.registry, manifests = args.manifests, tag = args.tag,
        replicas = args.replicas, app = args.app, gitops = args.gitops },
      outputs = { "manifests", "push.json" },
      -- Set by kiln deploy from the variables or the auth files; an effect's
      -- values are not part of its key.
      env = { "KILN_REGISTRY_USER", "KILN_REGISTRY_PASSWORD", "KILN_REGISTRY_TOKEN",
        "KILN_REGISTRY_SOURCE", "KILN_DEPLOY_FORCE" },
      network = true,
      effect = true,
    }
  end
end
