-- The baseline: the same bodies and content types as capture.lua, to a no-op endpoint.
local counter = 0

request = function()
  counter = counter + 1
  local email = "lead" .. counter .. "@example-corp.com"
  if counter % 2 == 0 then
    local body = '{"email":"' .. email .. '","first_name":"Ana","company":"Acme","job_title":"VP Marketing","utm_source":"linkedin","utm_campaign":"q4-playbook"}'
    return wrk.format("POST", wrk.path, {["Content-Type"] = "application/json"}, body)
  end
  local body = "email=" .. email .. "&first_name=Ana&company=Acme&job_title=VP+Marketing&utm_source=google&utm_medium=cpc"
  return wrk.format("POST", wrk.path, {["Content-Type"] = "application/x-www-form-urlencoded"}, body)
end
