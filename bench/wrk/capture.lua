-- Realistic form posts: 70% new emails, 30% returning ones; half JSON, half urlencoded.
local counter = 0
local thread_tag = tostring(math.random(1, 1e9))

request = function()
  counter = counter + 1
  local email
  if math.random() < 0.3 then
    email = "returning" .. math.random(1, 500) .. "@acme-corp.com"
  else
    email = "lead" .. thread_tag .. "-" .. counter .. "@example-corp.com"
  end
  local path = wrk.path
  if counter % 2 == 0 then
    local body = '{"email":"' .. email .. '","first_name":"Ana","company":"Acme","job_title":"VP Marketing","utm_source":"linkedin","utm_campaign":"q4-playbook"}'
    return wrk.format("POST", path, {["Content-Type"] = "application/json"}, body)
  end
  local body = "email=" .. email .. "&first_name=Ana&company=Acme&job_title=VP+Marketing&utm_source=google&utm_medium=cpc"
  return wrk.format("POST", path, {["Content-Type"] = "application/x-www-form-urlencoded"}, body)
end
