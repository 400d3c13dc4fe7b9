// The pre-call check: camera, microphone, speaker, the signalling socket and
// the TURN relay, each with its own status and, when it fails, what to do in
// plain words. Only the signalling check talks to Tandem (a few pings); the
// picture and sound never leave this page, and nothing is kept.
(function () {
  "use strict";
  var root = document.getElementById("precheck");
  if (!root) { return; }

  var LIMIT_MS = 10000;        // each automatic check gives up after this long
  var SOUND = 0.03;            // a sample peak above this is more than silence
  var SLOW_MS = 1000;          // a round trip slower than this makes calls lag
  var WORDS = {
    pending: "Not started",
    running: "Checking…",
    waiting: "Waiting for you",
    passed: "Passed",
    warning: "Check this",
    failed: "Failed"
  };
  var FINAL = { passed: true, warning: true, failed: true };
  var BROWSER_FIX = "Use a current version of Chrome, Edge, Firefox or Safari, then run the check again.";
  var NETWORK_FIX = "Try another network, such as your home Wi-Fi or your phone's mobile data. " +
    "On a work, school or hotel network, ask its IT team to allow video calls to this site.";

  var iceServers = [];
  try {
    iceServers = JSON.parse(document.getElementById("precheck-ice-servers").textContent) || [];
  } catch (e) { iceServers = []; }

  var startButton = document.getElementById("precheck-start");
  var bar = document.getElementById("precheck-progress");
  var barLabel = document.getElementById("precheck-progress-label");
  var summary = document.getElementById("precheck-summary");
  var video = document.getElementById("precheck-video");
  var meter = document.getElementById("precheck-level");
  var micConfirm = document.getElementById("precheck-mic-confirm");
  var playButton = document.getElementById("precheck-play");
  var heardButton = document.getElementById("precheck-heard");
  var notHeardButton = document.getElementById("precheck-not-heard");

  var items = {};
  var order = [];
  Array.prototype.forEach.call(root.querySelectorAll("[data-check]"), function (li) {
    var name = li.dataset.check;
    order.push(name);
    items[name] = {
      li: li,
      title: li.querySelector("h3").textContent,
      state: "pending",
      detail: "",
      fix: ""
    };
  });

  // Each run of the check has a number; a late result of an earlier run is dropped.
  var run = 0;
  var started = false;
  var streams = [];
  var audio = null;
  var meterTimer = null;
  var meterSource = null;

  function set(name, state, detail, fix) {
    var item = items[name];
    if (!item) { return; }
    item.state = state;
    item.detail = detail || "";
    item.fix = fix || "";
    item.li.dataset.state = state;
    item.li.querySelector(".check-state").textContent = WORDS[state];
    item.li.querySelector(".check-detail").textContent = item.detail;
    var fixLine = item.li.querySelector(".check-fix");
    fixLine.textContent = item.fix ? "What to do: " + item.fix : "";
    fixLine.hidden = !item.fix;
    progress();
  }

  function progress() {
    var done = order.filter(function (name) { return FINAL[items[name].state]; }).length;
    bar.max = order.length;
    bar.value = done;
    barLabel.textContent = started ? done + " of " + order.length + " checks finished" : "Not started";
    if (started && done === order.length) {
      summarise();
    } else {
      summary.hidden = true;
    }
  }

  function line(parent, tag, text) {
    var element = document.createElement(tag);
    element.textContent = text;
    parent.appendChild(element);
    return element;
  }

  function summarise() {
    var failed = order.filter(function (name) { return items[name].state === "failed"; });
    var warned = order.filter(function (name) { return items[name].state === "warning"; });
    summary.textContent = "";
    summary.className = failed.length ? "notice warning" : "notice";
    summary.dataset.ready = failed.length ? "no" : "yes";
    if (failed.length) {
      line(summary, "h2", failed.length === 1 ? "Fix this before your visit" : "Fix these before your visit");
      var list = line(summary, "ul", "");
      failed.forEach(function (name) {
        line(list, "li", items[name].title + ": " + (items[name].fix || items[name].detail));
      });
      line(summary, "p", "Then run the check again.");
    } else {
      line(summary, "h2", "Ready for your visit");
      line(summary, "p", "Your camera, microphone and speaker work, and your network reaches Tandem's video servers.");
    }
    if (warned.length) {
      line(summary, "p", "Good to know:");
      var notes = line(summary, "ul", "");
      warned.forEach(function (name) {
        line(notes, "li", items[name].title + ": " + items[name].detail + (items[name].fix ? " " + items[name].fix : ""));
      });
    }
    summary.hidden = false;
  }

  // --- Camera and microphone ---------------------------------------------------------------

  function stopMedia() {
    if (meterTimer) { window.clearInterval(meterTimer); meterTimer = null; }
    if (meterSource) { meterSource.disconnect(); meterSource = null; }
    streams.forEach(function (stream) { stream.getTracks().forEach(function (track) { track.stop(); }); });
    streams = [];
    video.srcObject = null;
    meter.value = 0;
    micConfirm.hidden = true;
  }

  function mediaProblem(what, error) {
    var name = error && error.name;
    if (name === "NotAllowedError" || name === "SecurityError" || name === "PermissionDeniedError") {
      return ["Your browser is not allowed to use the " + what + ".",
        "Allow the " + what + " for this site (click the camera or lock icon in the address bar and choose Allow), then run the check again."];
    }
    if (name === "NotFoundError" || name === "OverconstrainedError" || name === "DevicesNotFoundError") {
      return ["No " + what + " was found.", "Connect a " + what + ", or use a device that has one, then run the check again."];
    }
    if (name === "NotReadableError" || name === "TrackStartError" || name === "AbortError") {
      return ["The " + what + " could not be started.",
        "Close other apps that may be using it (such as Zoom, Teams or FaceTime), then run the check again. If that does not help, restart your device."];
    }
    return ["The " + what + " could not be started.", "Reload this page and run the check again. If it still fails: " + BROWSER_FIX];
  }

  function ask(constraints) {
    return navigator.mediaDevices.getUserMedia(constraints).then(function (stream) {
      streams.push(stream);
      return { stream: stream };
    }, function (error) { return { error: error }; });
  }

  // One request for both, so one permission prompt; when it fails, one each,
  // to tell which device is the problem and why.
  function media() {
    return ask({ audio: true, video: true }).then(function (both) {
      if (both.stream) { return { camera: both, microphone: both }; }
      return ask({ video: true }).then(function (camera) {
        return ask({ audio: true }).then(function (microphone) { return { camera: camera, microphone: microphone }; });
      });
    });
  }

  function checkCamera(token, result) {
    if (result.error) {
      var problem = mediaProblem("camera", result.error);
      set("camera", "failed", problem[0], problem[1]);
      return;
    }
    var track = result.stream.getVideoTracks()[0];
    video.srcObject = new MediaStream([track]);
    video.play().catch(function () {});
    set("camera", "running", "Waiting for a picture from your camera…");
    var since = Date.now();
    (function look() {
      if (token !== run) { return; }
      if (video.videoWidth > 0) {
        set("camera", "passed", "Your camera works: you should see yourself below (" + video.videoWidth + "×" + video.videoHeight + ").");
      } else if (track.readyState === "ended" || Date.now() - since > LIMIT_MS) {
        set("camera", "failed", "Your camera gives no picture.",
          "Check that the camera is not covered or switched off, close other apps that may be using it, then run the check again.");
      } else {
        window.setTimeout(look, 100);
      }
    }());
  }

  function audioContext() {
    var Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) { return null; }
    if (!audio) { audio = new Context(); }
    if (audio.state === "suspended") { audio.resume().catch(function () {}); }
    return audio;
  }

  function checkMicrophone(token, result) {
    if (result.error) {
      var problem = mediaProblem("microphone", result.error);
      set("microphone", "failed", problem[0], problem[1]);
      return;
    }
    var context = audioContext();
    if (!context) {
      set("microphone", "failed", "This browser cannot measure sound on this page.", BROWSER_FIX);
      return;
    }
    var track = result.stream.getAudioTracks()[0];
    meterSource = context.createMediaStreamSource(new MediaStream([track]));
    var analyser = context.createAnalyser();
    analyser.fftSize = 2048;
    meterSource.connect(analyser);
    var samples = new Float32Array(analyser.fftSize);
    var level = 0;
    var loud = 0;
    var since = Date.now();
    set("microphone", "running", "Listening… say something.");
    meterTimer = window.setInterval(function () {
      analyser.getFloatTimeDomainData(samples);
      var peak = 0;
      for (var i = 0; i < samples.length; i += 1) { peak = Math.max(peak, Math.abs(samples[i])); }
      level = Math.max(peak, level * 0.8);
      meter.value = Math.min(1, level);
      meter.textContent = Math.round(Math.min(1, level) * 100) + "%";
      var state = items.microphone.state;
      if (token !== run || (state !== "running" && state !== "waiting")) { return; }
      if (peak > SOUND) {
        loud += 1;
        if (loud >= 2) {
          micConfirm.hidden = true;
          set("microphone", "passed", "Your microphone works: it picks up sound.");
        }
      } else if (state === "running" && Date.now() - since > LIMIT_MS) {
        micConfirm.hidden = false;
        set("microphone", "waiting", "No sound heard yet. Say something and watch the bar, then answer below.");
      }
    }, 50);
  }

  document.getElementById("precheck-mic-yes").addEventListener("click", function () {
    micConfirm.hidden = true;
    set("microphone", "passed", "You saw the bar move when you spoke: your microphone works.");
  });
  document.getElementById("precheck-mic-no").addEventListener("click", function () {
    micConfirm.hidden = true;
    set("microphone", "failed", "No sound reaches your microphone.",
      "Check it is not muted (many headsets and laptops have a mute switch or key) and that the right microphone is chosen in your device's sound settings, then run the check again.");
  });

  // --- Speaker --------------------------------------------------------------------------------

  playButton.addEventListener("click", function () {
    var context = audioContext();
    if (!context) {
      set("speaker", "failed", "This browser cannot play sound on this page.", BROWSER_FIX);
      return;
    }
    // A one-second tone, faded in and out so it does not click.
    var tone = context.createOscillator();
    var gain = context.createGain();
    var at = context.currentTime;
    tone.type = "sine";
    tone.frequency.value = 660;
    gain.gain.setValueAtTime(0, at);
    gain.gain.linearRampToValueAtTime(0.3, at + 0.05);
    gain.gain.setValueAtTime(0.3, at + 0.95);
    gain.gain.linearRampToValueAtTime(0, at + 1);
    tone.connect(gain);
    gain.connect(context.destination);
    tone.start(at);
    tone.stop(at + 1.05);
    heardButton.disabled = false;
    notHeardButton.disabled = false;
    set("speaker", "waiting", "Did you hear a short tone? Answer below; play it again if you missed it.");
  });
  heardButton.addEventListener("click", function () {
    set("speaker", "passed", "You heard the test sound: your speaker works.");
  });
  notHeardButton.addEventListener("click", function () {
    set("speaker", "failed", "You did not hear the test sound.",
      "Turn the volume up and check the sound is not muted. If you use headphones, check they are connected and chosen as your device's sound output. Then play the sound again.");
  });

  // --- Signalling -----------------------------------------------------------------------------

  function checkSignalling(token) {
    if (!window.WebSocket) {
      set("signalling", "failed", "This browser cannot connect to Tandem's video service.", BROWSER_FIX);
      return;
    }
    set("signalling", "running", "Connecting…");
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    var socket = new WebSocket(scheme + window.location.host + root.dataset.socket);
    var times = [];
    var sentAt = 0;
    var done = false;
    var timer = window.setTimeout(function () { finish(false, 0); }, LIMIT_MS);

    function finish(ok, code) {
      if (done) { return; }
      done = true;
      window.clearTimeout(timer);
      socket.close(1000);
      if (token !== run) { return; }
      if (ok) {
        times.sort(function (a, b) { return a - b; });
        var ms = Math.max(1, Math.round(times[Math.floor(times.length / 2)]));
        if (ms > SLOW_MS) {
          set("signalling", "warning", "Reached, but slowly: a message takes about " + ms + " ms there and back.",
            "Your call may lag. Move closer to your Wi-Fi router, use a wired connection, or pause large downloads, then run the check again.");
        } else {
          set("signalling", "passed", "Reached: a message takes about " + ms + " ms there and back.");
        }
      } else if (code === 4401 || code === 4403) {
        set("signalling", "failed", "This page may no longer connect.",
          "Reload this page. If it asks you to sign in, or says your link has expired, do what it says.");
      } else {
        set("signalling", "failed", "Your browser could not reach Tandem's video service.",
          "Your network may be blocking it. " + NETWORK_FIX);
      }
    }
    function ping() {
      sentAt = window.performance.now();
      socket.send(JSON.stringify({ type: "ping" }));
    }
    socket.addEventListener("open", ping);
    socket.addEventListener("message", function (event) {
      var message;
      try { message = JSON.parse(event.data); } catch (e) { return; }
      if (message.type !== "pong" || done) { return; }
      times.push(window.performance.now() - sentAt);
      if (times.length >= 3) { finish(true, 0); } else { ping(); }
    });
    socket.addEventListener("close", function (event) { finish(false, event.code); });
  }

  // --- TURN and STUN --------------------------------------------------------------------------

  function serversFor(schemes) {
    return iceServers.filter(function (server) {
      return [].concat(server.urls).some(function (url) {
        return schemes.some(function (scheme) { return String(url).indexOf(scheme + ":") === 0; });
      });
    });
  }

  function candidateType(candidate) {
    if (candidate.type) { return candidate.type; }
    var match = / typ ([a-z]+)/.exec(candidate.candidate || "");
    return match ? match[1] : "";
  }

  // Gather ICE candidates for a data channel until one of type `wanted`
  // appears, gathering ends without one, or the time limit passes.
  function gather(config, wanted, done) {
    var pc;
    try { pc = new RTCPeerConnection(config); } catch (e) { done("unsupported", []); return; }
    var errors = [];
    var over = false;
    var timer = window.setTimeout(function () { finish("timeout"); }, LIMIT_MS);
    function finish(result) {
      if (over) { return; }
      over = true;
      window.clearTimeout(timer);
      pc.close();
      done(result, errors);
    }
    pc.addEventListener("icecandidate", function (event) {
      if (!event.candidate) { finish("none"); return; }
      if (candidateType(event.candidate) === wanted) { finish("found"); }
    });
    pc.addEventListener("icecandidateerror", function (event) { errors.push(event.errorCode); });
    pc.createDataChannel("check");
    pc.createOffer().then(function (offer) { return pc.setLocalDescription(offer); }).catch(function () { finish("unsupported"); });
  }

  function checkRelay(token) {
    var turn = serversFor(["turn", "turns"]);
    if (!turn.length) {
      set("relay", "warning", "No TURN server is configured; calls from restrictive networks may fail.");
      return;
    }
    if (!window.RTCPeerConnection) {
      set("relay", "failed", "This browser cannot make video calls.", BROWSER_FIX);
      return;
    }
    set("relay", "running", "Trying to reach the relay server…");
    gather({ iceServers: turn, iceTransportPolicy: "relay" }, "relay", function (result, errors) {
      if (token !== run) { return; }
      if (result === "found") {
        set("relay", "passed", "Reached: your call can get through even where a direct connection is blocked.");
      } else if (result === "unsupported") {
        set("relay", "failed", "This browser cannot make video calls.", BROWSER_FIX);
      } else if (errors.indexOf(401) !== -1) {
        set("relay", "failed", "The relay server did not accept this browser's sign-in.",
          "Reload this page and run the check again. If it still fails, tell your clinic: their video relay may be set up wrongly.");
      } else {
        set("relay", "failed", "Your browser could not reach the video relay server, so video may not connect from this network.",
          NETWORK_FIX);
      }
    });
  }

  function checkDirect(token) {
    if (!items.direct) { return; }
    var stun = serversFor(["stun", "stuns"]);
    if (!stun.length || !window.RTCPeerConnection) {
      set("direct", "warning", "A direct connection could not be tested; calls will use the relay server.");
      return;
    }
    set("direct", "running", "Trying to reach the STUN server…");
    gather({ iceServers: stun }, "srflx", function (result) {
      if (token !== run) { return; }
      if (result === "found") {
        set("direct", "passed", "Reached: your device can connect directly when the network allows it.");
      } else {
        set("direct", "warning", "A direct connection could not be confirmed; calls will go through the relay server, which works but may be a little slower.");
      }
    });
  }

  // --- Running it -----------------------------------------------------------------------------

  startButton.addEventListener("click", function () {
    run += 1;
    var token = run;
    started = true;
    stopMedia();
    order.forEach(function (name) { set(name, "pending"); });
    startButton.textContent = "Run the check again";
    playButton.disabled = false;
    heardButton.disabled = true;
    notHeardButton.disabled = true;
    set("speaker", "waiting", "Play the test sound, then say whether you heard it.");
    audioContext();  // created during the click, so the browser lets it play and listen
    checkSignalling(token);
    checkRelay(token);
    checkDirect(token);
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      set("camera", "failed", "This browser cannot use a camera on this page.", BROWSER_FIX);
      set("microphone", "failed", "This browser cannot use a microphone on this page.", BROWSER_FIX);
      return;
    }
    set("camera", "running", "Asking for your camera… allow it if your browser asks.");
    set("microphone", "running", "Asking for your microphone… allow it if your browser asks.");
    media().then(function (result) {
      if (token !== run) {
        // A newer run started while the browser was asking: let these go.
        [result.camera.stream, result.microphone.stream].forEach(function (stream) {
          if (stream) { stream.getTracks().forEach(function (track) { track.stop(); }); }
        });
        return;
      }
      checkCamera(token, result.camera);
      checkMicrophone(token, result.microphone);
    });
  });

  window.addEventListener("pagehide", function () {
    stopMedia();
    if (audio) { audio.close().catch(function () {}); audio = null; }
  });
}());
