-- Argo CD health check for modelops.dev/ModelVersion (Lua 5.1, reads the global `obj`).
-- Mirrored by modelops/health.py; tests/manifests/test_argocd_health.py keeps the two in step.
local failedReasons = {
  InvalidSpec = true, InvalidArtifact = true, DigestMismatch = true, ArtifactNotFound = true, UnsupportedFormat = true,
  UntrustedFormat = true, UntrustedType = true, ArtifactUnreachable = true, ValidationFailed = true,
  ValidationError = true, VersionSkew = true, NameConflict = true,
}

local function describe(condition)
  if condition == nil then return "" end
  if condition.message ~= nil and condition.message ~= "" then return condition.message end
  if condition.reason ~= nil then return condition.reason end
  return ""
end

local hs = {}
if obj.status == nil or next(obj.status) == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to report status"
  return hs
end
local generation = obj.metadata.generation
if generation ~= nil and (obj.status.observedGeneration == nil or obj.status.observedGeneration < generation) then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe generation " .. string.format("%d", generation)
  return hs
end
local conditions = obj.status.conditions or {}
local ready = nil
for _, condition in ipairs(conditions) do
  if condition.type == "Ready" then ready = condition; break end
end
if generation ~= nil and ready ~= nil and ready.observedGeneration ~= nil and ready.observedGeneration < generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the Ready condition of generation " .. string.format("%d", generation)
  return hs
end

-- An artifact that does not verify or a model that fails validation stays broken until the spec changes.
for _, condition in ipairs(conditions) do
  if condition.status == "False" and failedReasons[condition.reason] then
    hs.status = "Degraded"
    hs.message = describe(condition)
    return hs
  end
end
for _, condition in ipairs(conditions) do
  if (condition.type == "Stalled" or condition.type == "Degraded") and condition.status == "True" then
    hs.status = "Degraded"
    hs.message = describe(condition)
    return hs
  end
end

if ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = describe(ready)
  return hs
end
hs.status = "Progressing"
hs.message = describe(ready)
if hs.message == "" then hs.message = "Waiting for the Ready condition" end
return hs
