/* Leadnurture first-party page tracking. No dependencies; honours Do-Not-Track and
   window.lnConsent === false; sets an anonymous visitor id that a later form post
   stitches onto the lead. */
(function () {
  "use strict";
  /* Post back to wherever this script was loaded from (the configured base URL otherwise). */
  var script = document.currentScript;
  var endpoint = script && script.src ? new URL("/t/e", script.src).href : "__ENDPOINT__";
  if (navigator.doNotTrack === "1" || window.doNotTrack === "1" || window.lnConsent === false) return;
  var match = document.cookie.match(/(?:^|; )ln_vid=([A-Za-z0-9-]{8,64})/);
  var vid = match ? match[1] : (window.crypto && crypto.randomUUID ? crypto.randomUUID()
    : (Date.now().toString(36) + "-" + Math.random().toString(36).slice(2, 12)));
  document.cookie = "ln_vid=" + vid + "; Max-Age=31536000; Path=/; SameSite=Lax";
  var body = JSON.stringify({ vid: vid, url: location.href, referrer: document.referrer, title: document.title });
  /* text/plain keeps the beacon a "simple" request: no CORS preflight. */
  if (navigator.sendBeacon) {
    navigator.sendBeacon(endpoint, new Blob([body], { type: "text/plain" }));
  } else {
    fetch(endpoint, { method: "POST", body: body, keepalive: true, headers: { "Content-Type": "text/plain" } });
  }
  function tagForms() {
    var forms = document.querySelectorAll('form[action*="/api/v1/forms/"]');
    for (var i = 0; i < forms.length; i++) {
      if (forms[i].querySelector('input[name="_ln_vid"]')) continue;
      var input = document.createElement("input");
      input.type = "hidden"; input.name = "_ln_vid"; input.value = vid;
      forms[i].appendChild(input);
    }
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", tagForms);
  else tagForms();
  window.lnVisitorId = vid;
})();
