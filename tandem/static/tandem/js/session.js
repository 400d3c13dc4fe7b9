// Automatic logoff on the page: warn a minute before the idle limit, report
// real activity (typing, clicking) to the server at most once a minute, and
// leave the page for the sign-in screen when the server says the session ended.
(function () {
  "use strict";
  var body = document.body;
  var statusUrl = body.dataset.sessionStatus;
  var keepaliveUrl = body.dataset.sessionKeepalive;
  var signedOutUrl = body.dataset.signedOut;
  if (!statusUrl) { return; }
  var idleSeconds = parseInt(body.dataset.idleSeconds || "900", 10);
  var lastActivity = Date.now();
  var lastReported = Date.now();
  var warning = document.getElementById("session-warning");
  var stay = document.getElementById("session-stay");

  function csrfToken() {
    var headers = JSON.parse(body.getAttribute("hx-headers") || "{}");
    return headers["X-CSRFToken"] || "";
  }

  function leave(url) { window.location.assign(url || signedOutUrl + "?reason=idle"); }

  function check() {
    fetch(statusUrl, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) { return response.json().then(function (data) { return [response.status, data]; }); })
      .then(function (result) {
        var data = result[1];
        if (result[0] === 401 || !data.signed_in) { leave(data.redirect); return; }
        if (warning) { warning.hidden = data.seconds_left > 60; }
      })
      .catch(function () { /* offline: try again on the next tick */ });
  }

  function report() {
    lastReported = Date.now();
    fetch(keepaliveUrl, { method: "POST", credentials: "same-origin", headers: { "X-CSRFToken": csrfToken(), "Accept": "application/json" } })
      .then(function (response) { if (response.status === 401) { leave(); } else if (warning) { warning.hidden = true; } })
      .catch(function () {});
  }

  function activity() {
    lastActivity = Date.now();
    if (Date.now() - lastReported > 60000) { report(); }
  }

  ["keydown", "mousedown", "touchstart"].forEach(function (name) {
    document.addEventListener(name, activity, { passive: true });
  });
  if (stay) { stay.addEventListener("click", report); }

  // Check often enough to act within a few seconds of the limit.
  var tick = Math.max(5, Math.min(30, Math.floor(idleSeconds / 10)));
  window.setInterval(function () {
    var idleFor = (Date.now() - lastActivity) / 1000;
    if (idleFor >= idleSeconds - 65) { check(); }
  }, tick * 1000);
  window.addEventListener("focus", check);

  // Regions that show what live events report (an appointment booked, moved
  // or cancelled arrives as a notification) fetch themselves again in place:
  // each such region carries data-live-refresh="<its page's URL>" and the
  // hx-select, hx-swap and hx-headers for the request. The event carries no
  // health information, only a cue. Cues that arrive while a region is
  // fetching are folded into one more fetch once it is done, rather than
  // cutting the first one off.
  var REFRESHING_KINDS = ["notification", "appointments", "video", "note_read"];
  var refreshing = {};
  function refreshRegion(region) {
    var key = region.id;
    if (refreshing[key]) { refreshing[key] = "again"; return; }
    refreshing[key] = "busy";
    function done() {
      var again = refreshing[key] === "again";
      delete refreshing[key];
      var current = document.getElementById(key);
      if (again && current) { refreshRegion(current); }
    }
    window.htmx.ajax("GET", region.dataset.liveRefresh, { source: region, target: region }).then(done, done);
  }
  function refreshLiveRegions() {
    if (!window.htmx) { return; }
    document.querySelectorAll("[data-live-refresh]").forEach(refreshRegion);
  }
  document.addEventListener("tandem:live", function (event) {
    var kind = event.detail && event.detail.kind;
    if (REFRESHING_KINDS.indexOf(kind) >= 0) { refreshLiveRegions(); }
  });

  // The live socket: the server closes it when the session ends anywhere
  // (sign-out in another tab, a limit reached), and this page follows at once.
  // body[data-live-state] says whether it is open.
  var liveUrl = body.dataset.liveSocket;
  var retry = 1000;
  var everOpen = false;
  function connect() {
    if (!liveUrl || !window.WebSocket) { return; }
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    var socket = new WebSocket(scheme + window.location.host + liveUrl);
    socket.addEventListener("open", function () {
      retry = 1000;
      body.dataset.liveState = "open";
      // Events sent while the socket was down are lost: catch up once.
      if (everOpen) { refreshLiveRegions(); }
      everOpen = true;
    });
    socket.addEventListener("message", function (event) {
      var data = {};
      try { data = JSON.parse(event.data); } catch (e) { return; }
      if (data.type === "signed_out") {
        var known = ["user", "idle", "absolute", "password_reset", "mfa_reset"];
        leave(signedOutUrl + "?reason=" + (known.indexOf(data.reason) >= 0 ? data.reason : "idle"));
      }
      else if (data.type === "event") { document.dispatchEvent(new CustomEvent("tandem:live", { detail: data.event })); }
    });
    socket.addEventListener("close", function (event) {
      body.dataset.liveState = "closed";
      if (event.code === 4401) { check(); return; }
      window.setTimeout(connect, retry);
      retry = Math.min(retry * 2, 30000);
    });
  }
  connect();
})();
