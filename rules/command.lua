-- command: run a shell command as a build step (the exec plugin).
--
--   command "shout" {
--     inputs  = { names = "data/names.txt", prev = ":other" },
--     cmd     = "tr a-z A-Z < {in.names} > {out}/shout.txt",
--     outputs = { "shout.txt" },
--   }
--
-- tools = { python = "/usr/bin/python3", site = "/usr/lib/python3/dist-packages",
-- packages = { "python3-numpy" } } puts what the command runs with in its key.
--
-- checkpoint = true gives the command $KILN_CHECKPOINT, a folder kiln keeps
-- across an interrupted run of the same key (see docs/guide.md);
-- checkpoint_upload = "10m" also sends it to the remote cache that often.
--
-- {in.NAME} is input NAME's path (a target input: the folder of its
-- outputs), {out} the output folder; also $KILN_IN_<NAME> and $KILN_OUT.
--
--   command "train" {
--     cmd     = "python train.py --lr {param.lr} --out {out}",
--     params  = { lr = 0.05, layers = { 64, 32 } },
--     metrics = "metrics.json",
--   }
--
-- params are the step's own: part of the key, {param.NAME} in cmd (a
-- dotted NAME reaches into a table), and a JSON file named by $KILN_PARAMS.
-- metrics names an output file (declared for you if outputs lacks it)
-- whose numbers become the target's metrics, nested keys joined with '.'.

local fields = {
  inputs = true, cmd = true, outputs = true, env = true,
  resources = true, network = true, shell = true, params = true, metrics = true,
  tools = true, gpu_key = true, checkpoint = true, checkpoint_upload = true, effect = true,
}

local reserved = { cmd = true, shell = true, metrics = true }

-- The params kiln.target gets: the plugin's own (cmd, shell, metrics) and the step's.
local function target_params(name, args)
  local params = { cmd = args.cmd, shell = args.shell, metrics = args.metrics }
  if args.params == nil then return params end
  if type(args.params) ~= "table" then
    kiln.fail(("command '%s': field 'params': expected a table of name = value, got %s"):format(name, type(args.params)))
  end
  for k, v in pairs(args.params) do
    if type(k) ~= "string" then
      kiln.fail(("command '%s': field 'params': expected named params, got key %s"):format(name, tostring(k)))
    end
    if reserved[k] then
      kiln.fail(("command '%s': field 'params': '%s' is the command's own field, not a param"):format(name, k))
    end
    params[k] = v
  end
  return params
end

-- outputs, with the metrics file added when it is not declared.
local function target_outputs(name, args)
  if args.metrics == nil then return args.outputs end
  if type(args.metrics) ~= "string" or args.metrics == "" then
    kiln.fail(("command '%s': field 'metrics': expected the name of an output file, such as \"metrics.json\""):format(name))
  end
  local outputs = {}
  for i, o in ipairs(type(args.outputs) == "table" and args.outputs or {}) do
    if o == args.metrics then return args.outputs end
    outputs[i] = o
  end
  if args.outputs ~= nil and type(args.outputs) ~= "table" then return args.outputs end
  outputs[#outputs + 1] = args.metrics
  return outputs
end

function command(name)
  if type(name) ~= "string" then
    kiln.fail("command: expected a target name (a string), got " .. type(name))
  end
  return function(args)
    if type(args) ~= "table" then
      kiln.fail(("command '%s': expected a table of fields, got %s"):format(name, type(args)))
    end
    for k in pairs(args) do
      if not fields[k] then
        kiln.fail(("command '%s': unknown field '%s'"):format(name, tostring(k)))
      end
    end
    if type(args.cmd) ~= "string" then
      kiln.fail(("command '%s': field 'cmd': expected a string, got %s"):format(name, type(args.cmd)))
    end
    if args.shell ~= nil and type(args.shell) ~= "string" then
      kiln.fail(("command '%s': field 'shell': expected a string, got %s"):format(name, type(args.shell)))
    end
    kiln.target {
      name = name,
      plugin = "exec",
      inputs = args.inputs,
      params = target_params(name, args),
      outputs = target_outputs(name, args),
      env = args.env,
      resources = args.resources,
      network = args.network,
      tools = args.tools,
      gpu_key = args.gpu_key,
      checkpoint = args.checkpoint,
      checkpoint_upload = args.checkpoint_upload,
      effect = args.effect,
    }
  end
end
