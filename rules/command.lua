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
-- across an interrupted run of the same key (see docs/guide.md).
--
-- {in.NAME} is input NAME's path (a target input: the folder of its
-- outputs), {out} the output folder; also $KILN_IN_<NAME> and $KILN_OUT.

local fields = {
  inputs = true, cmd = true, outputs = true, env = true,
  resources = true, network = true, shell = true, tools = true,
  gpu_key = true, checkpoint = true,
}

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
      params = { cmd = args.cmd, shell = args.shell },
      outputs = args.outputs,
      env = args.env,
      resources = args.resources,
      network = args.network,
      tools = args.tools,
      gpu_key = args.gpu_key,
      checkpoint = args.checkpoint,
    }
  end
end
