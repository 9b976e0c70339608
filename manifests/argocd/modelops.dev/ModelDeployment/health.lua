-- Argo CD health check for modelops.dev/ModelDeployment (Lua 5.1, reads the global `obj`).
-- Mirrored by modelops/health.py; tests/manifests/test_argocd_health.py keeps the two in step.
-- As with Argo Rollouts: an aborted (rolled back) rollout is Degraded, a paused one Suspended.
local failedReasons = { InvalidSpec = true }
local failedPhases = { RolledBack = true, Failed = true }

local function describe(condition)
  if condition == nil then return "" end
  if condition.message ~= nil and condition.message ~= "" then return condition.message end
  if condition.reason ~= nil then return condition.reason end
  return ""
end

local function joined(headline, detail)
  if detail == "" then return headline end
  return headline .. ": " .. detail
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
local progressing = nil
for _, condition in ipairs(conditions) do
  if condition.type == "Progressing" then progressing = condition; break end
end
local phase = obj.status.phase
if phase ~= nil and failedPhases[phase] then
  -- The Progressing condition says why the candidate failed; Ready only what still serves.
  local why = describe(progressing)
  if why == "" then why = describe(ready) end
  hs.status = "Degraded"
  hs.message = joined("Rollout " .. phase, why)
  return hs
end

if obj.spec ~= nil and obj.spec.paused == true then
  hs.status = "Suspended"
  hs.message = "Rollout paused by spec.paused"
  return hs
end
if phase == "Paused" then
  hs.status = "Suspended"
  hs.message = joined("Rollout paused", describe(ready))
  return hs
end

-- Like a Rollout mid-canary: the stable version may be Ready, but the rollout is not done.
if phase == "Pending" or phase == "Progressing" then
  hs.status = "Progressing"
  hs.message = describe(progressing)
  if hs.message == "" then hs.message = describe(ready) end
  if hs.message == "" then hs.message = "Rollout " .. phase end
  return hs
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
