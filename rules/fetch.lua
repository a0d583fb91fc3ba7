-- fetch: download one URL, pinned by its digest (the fetch plugin).
--
--   fetch "raw" { url = "https://example.org/wine.csv", sha256 = "…" }
--   fetch "raw" { url = "file:///mnt/share/wine.csv", xxh3 = "…", file = "wine.csv" }
--
-- The only kind of step given the network. The bytes are kept only when
-- they have the pinned digest (sha256, or xxh3: the 128-bit XXH3 that
-- xxh128sum prints); a dropped transfer is resumed with a range request.
-- Output: one file, named by `file` (default: the URL's last component).
-- Once fetched it is in the cache under the target's key, so neither a
-- second workspace nor an offline machine downloads it again.
-- `kiln fetch --update raw` prints the digest the URL serves now.

local check, check_args = kiln.args.check, kiln.args.check_args

local spec = {
  url = { function(v) return type(v) == "string" and (v:match("^https?://[^/]") or v:match("^file:///")) ~= nil end,
    "an http://, https:// or file:/// URL" },
  sha256 = { function(v) return type(v) == "string" and #v == 64 and not v:find("[^0-9a-f]") end,
    "64 lower-case hex digits" },
  xxh3 = { function(v) return type(v) == "string" and #v == 32 and not v:find("[^0-9a-f]") end,
    "32 lower-case hex digits (xxh128sum)" },
  file = { function(v) return type(v) == "string" and v:match("^[%w][%w._-]*$") ~= nil end,
    "a file name (letters, digits, '.', '_', '-')" },
  resources = { function(v) return type(v) == "table" end, "a table" },
}

function fetch(name)
  return function(args)
    check_args("fetch", name, args, spec, { "url" })
    if (args.sha256 == nil) == (args.xxh3 == nil) then
      kiln.fail(string.format("fetch '%s': give one digest: sha256 = \"…\" or xxh3 = \"…\"", name))
    end
    local file = args.file or args.url:gsub("[?#].*$", ""):match("([^/]+)$")
    if not file or not file:match("^[%w][%w._-]*$") then
      kiln.fail(string.format("fetch '%s': cannot name the file after the URL; give file = \"name\"", name))
    end
    local inputs = nil
    if args.url:match("^file://") then
      -- The sandbox shows the step only what is declared: the file itself.
      inputs = { src = args.url:sub(8) }
    end
    kiln.target {
      name = name,
      plugin = "fetch",
      inputs = inputs,
      params = { url = args.url, sha256 = args.sha256, xxh3 = args.xxh3 },
      outputs = { file },
      network = true,
      resources = args.resources,
    }
  end
end
