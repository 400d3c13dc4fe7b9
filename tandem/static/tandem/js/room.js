// A video room: a mesh of RTCPeerConnections, one per other participant,
// signalled over the room's WebSocket. Media goes browser to browser; the
// server only relays offers, answers and candidates. Nothing is recorded.
(function () {
  "use strict";
  var root = document.getElementById("video-room");
  if (!root) { return; }

  var socketPath = root.dataset.socket;
  var deviceKey = "tandem-video-device";
  var device = window.localStorage.getItem(deviceKey);
  if (!device || !/^[A-Za-z0-9_-]{16,64}$/.test(device)) {
    var bytes = new Uint8Array(18);
    window.crypto.getRandomValues(bytes);
    device = Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
    window.localStorage.setItem(deviceKey, device);
  }

  // A new id for each page load: after a reload the others start a new
  // connection; after a mere socket reconnect they keep the one they have.
  var pageBytes = new Uint8Array(12);
  window.crypto.getRandomValues(pageBytes);
  var pageId = Array.prototype.map.call(pageBytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");

  var status = document.getElementById("room-status");
  var videos = document.getElementById("remote-videos");
  var localVideo = document.getElementById("local-video");
  var waiting = document.getElementById("waiting-list");
  var me = null;
  var state = "connecting";
  var iceServers = [];
  var icePolicy = "all";
  var localStream = null;
  var screenTrack = null;  // while this participant shares their screen
  var peers = {};  // participant id -> {pc, polite, makingOffer, ignoreOffer, video, caption, failTimer, goneTimer}
  var socket = null;
  var joinedOnce = false;
  // How long a participant who dropped off the roster (their socket closed,
  // as on a network change) keeps their connection before it is let go.
  var GONE_GRACE_MS = 30000;

  function say(text, kind) {
    status.textContent = text;
    status.dataset.state = kind || "";
    root.dataset.state = kind || "";
  }

  function send(message) {
    if (socket && socket.readyState === WebSocket.OPEN) { socket.send(JSON.stringify(message)); }
  }

  function media() {
    if (localStream) { return Promise.resolve(localStream); }
    return navigator.mediaDevices.getUserMedia({ audio: true, video: true }).then(function (stream) {
      localStream = stream;
      localVideo.srcObject = stream;
      return stream;
    });
  }

  function tile(id, name) {
    var figure = document.createElement("figure");
    figure.className = "tile";
    figure.dataset.peer = id;
    var video = document.createElement("video");
    video.autoplay = true;
    video.playsInline = true;
    video.setAttribute("aria-label", "Video of " + name);
    var caption = document.createElement("figcaption");
    caption.textContent = name;
    figure.appendChild(video);
    figure.appendChild(caption);
    videos.appendChild(figure);
    return video;
  }

  function peer(id, name) {
    if (peers[id]) {
      if (name) { peers[id].caption.textContent = name; }
      return peers[id];
    }
    var pc = new RTCPeerConnection({ iceServers: iceServers, iceTransportPolicy: icePolicy });
    var video = tile(id, name || "Participant");
    var p = { pc: pc, polite: me < id, makingOffer: false, ignoreOffer: false, video: video, caption: video.nextSibling, failTimer: null, goneTimer: null };
    peers[id] = p;
    localStream.getTracks().forEach(function (track) {
      pc.addTrack(track.kind === "video" && screenTrack ? screenTrack : track, localStream);
    });
    if (mediaOf[id]) { showMedia(mediaOf[id]); }
    // The newcomer learns whether this side is muted or sharing.
    if (screenTrack || !localStream.getAudioTracks().every(function (t) { return t.enabled; }) || !localStream.getVideoTracks().every(function (t) { return t.enabled; })) {
      mediaState();
    }
    pc.ontrack = function (event) {
      if (p.video.srcObject !== event.streams[0]) { p.video.srcObject = event.streams[0]; }
    };
    pc.onicecandidate = function (event) {
      var c = event.candidate;
      send({ type: "candidate", to: id, candidate: c ? c.candidate : "", sdpMid: c ? c.sdpMid : null, sdpMLineIndex: c ? c.sdpMLineIndex : null });
    };
    pc.onnegotiationneeded = function () {
      // The first offer comes from one side only (the impolite one), so two
      // participants meeting never both offer at once; later changes may come
      // from either, and perfect negotiation settles any collision.
      if (p.polite && !pc.remoteDescription) { return; }
      p.makingOffer = true;
      pc.setLocalDescription().then(function () {
        send({ type: "offer", to: id, sdp: pc.localDescription.sdp });
      }).catch(function () {}).then(function () { p.makingOffer = false; });
    };
    pc.oniceconnectionstatechange = function () {
      var s = pc.iceConnectionState;
      if (s === "disconnected" || s === "failed") { pc.restartIce(); }
      refresh();
    };
    return p;
  }

  // A connection is in trouble when ICE has lost its path, or when nothing
  // has arrived on it for two seconds (ICE itself takes five or more to
  // notice). Trouble shows at once as "Reconnecting…"; sixty seconds of it
  // is a failure, with a button to try again.
  var FAIL_AFTER_MS = 60000;
  function connected(p) {
    var s = p.pc.iceConnectionState;
    return s === "connected" || s === "completed";
  }
  function inTrouble(p) {
    var s = p.pc.iceConnectionState;
    return s === "disconnected" || s === "failed" || p.stalled;
  }
  function refresh() {
    if (state !== "admitted") { return; }
    var list = Object.keys(peers).map(function (id) { return peers[id]; });
    list.forEach(function (p) {
      if (!inTrouble(p)) {
        window.clearTimeout(p.failTimer);
        p.failTimer = null;
        p.failed = false;
      } else if (!p.failTimer && !p.failed) {
        p.failTimer = window.setTimeout(function () { p.failed = true; refresh(); }, FAIL_AFTER_MS);
      }
    });
    if (list.some(function (p) { return p.failed; })) {
      say("The connection could not be restored. Check your network, then try again.", "failed");
      document.getElementById("retry").hidden = false;
    } else if (list.some(inTrouble)) {
      say("Reconnecting…", "reconnecting");
    } else if (list.length && list.every(connected) && root.dataset.state !== "muted") {
      say("Connected", "connected");
      document.getElementById("retry").hidden = true;
    }
  }

  // Once a second: has anything arrived on each connection since last time?
  window.setInterval(function () {
    Object.keys(peers).forEach(function (id) {
      var p = peers[id];
      p.pc.getStats().then(function (report) {
        var bytes = 0;
        report.forEach(function (stat) { if (stat.type === "inbound-rtp") { bytes += stat.bytesReceived || 0; } });
        var still = bytes > 0 && bytes === p.lastBytes;
        p.lastBytes = bytes;
        p.stillSeconds = still ? (p.stillSeconds || 0) + 1 : 0;
        var stalled = p.stillSeconds >= 2;
        if (stalled !== !!p.stalled) {
          p.stalled = stalled;
          p.video.parentNode.dataset.stalled = stalled ? "1" : "";
          refresh();
        }
      }).catch(function () {});
    });
  }, 1000);

  function drop(id) {
    var p = peers[id];
    if (!p) { return; }
    window.clearTimeout(p.goneTimer);
    window.clearTimeout(p.failTimer);
    p.pc.close();
    var figure = videos.querySelector('[data-peer="' + id + '"]');
    if (figure) { figure.remove(); }
    delete peers[id];
  }

  // Messages are applied one at a time, in order: a candidate may arrive
  // before the offer it belongs to has been applied.
  var chain = Promise.resolve();
  function handle(message) {
    chain = chain.then(function () { return apply(message); }).catch(function () {});
  }

  function apply(m) {
    if (m.type === "welcome") {
      me = m.you;
      iceServers = m.ice_servers || [];
      icePolicy = m.ice_transport_policy === "relay" ? "relay" : "all";
      state = m.state;
      say(state === "waiting" ? "Waiting for your clinician to let you in…" : "Starting the call…", state);
      if (joinedOnce) { recover(); }
      joinedOnce = true;
      return state === "admitted" ? media() : null;
    }
    if (m.type === "admitted") {
      state = "admitted";
      say("Starting the call…", "admitted");
      return media();
    }
    if (m.type === "roster") { echo(m.echo || [], m.participants); return roster(m.participants, m.removed); }
    if (m.type === "media") { return showMedia(m); }
    if (m.type === "left") { drop(m.participant); return null; }
    if (m.type === "mute") { return muteHere(); }
    if (state !== "admitted" || !localStream) { return null; }
    // The server relays only from admitted participants of this room: a
    // message may come before the roster that names its sender.
    var p = peers[m.from] || (m.from ? peer(m.from, "") : null);
    if (!p) { return null; }
    if (m.type === "offer" || m.type === "answer") {
      var collision = m.type === "offer" && (p.makingOffer || p.pc.signalingState !== "stable");
      p.ignoreOffer = !p.polite && collision;
      if (p.ignoreOffer) { return null; }
      return p.pc.setRemoteDescription({ type: m.type, sdp: m.sdp }).then(function () {
        if (m.type === "offer") {
          return p.pc.setLocalDescription().then(function () {
            send({ type: "answer", to: m.from, sdp: p.pc.localDescription.sdp });
          });
        }
      });
    }
    if (m.type === "candidate") {
      var init = m.candidate ? { candidate: m.candidate, sdpMid: m.sdpMid, sdpMLineIndex: m.sdpMLineIndex } : null;
      return p.pc.addIceCandidate(init).catch(function (e) { if (!p.ignoreOffer) { throw e; } });
    }
    return null;
  }

  // Back on the socket after it dropped: any connection that is not up is
  // restarted (its offer may have been lost while the socket was down).
  function recover() {
    Object.keys(peers).forEach(function (id) {
      var s = peers[id].pc.iceConnectionState;
      if (s !== "connected" && s !== "completed") { peers[id].pc.restartIce(); }
    });
  }

  // Another participant's microphone, camera and screen share, on their tile.
  var mediaOf = {};  // participant id -> their last media message
  function showMedia(m) {
    mediaOf[m.from] = m;
    var p = peers[m.from];
    if (!p) { return null; }
    var figure = p.video.parentNode;
    figure.dataset.screen = m.screen ? "1" : "";
    figure.dataset.muted = m.audio ? "" : "1";
    figure.dataset.cameraOff = m.video ? "" : "1";
    var notes = [];
    if (m.screen) { notes.push("sharing their screen"); }
    if (!m.audio) { notes.push("muted"); }
    if (!m.video && !m.screen) { notes.push("camera off"); }
    var note = figure.querySelector(".media-note");
    if (!note) {
      note = document.createElement("span");
      note.className = "media-note";
      figure.querySelector("figcaption").appendChild(note);
    }
    note.textContent = notes.length ? " (" + notes.join(", ") + ")" : "";
    return null;
  }

  function mediaState() {
    var audio = localStream && localStream.getAudioTracks()[0];
    var video = localStream && localStream.getVideoTracks()[0];
    send({ type: "media", audio: !!(audio && audio.enabled), video: !!(video && video.enabled), screen: !!screenTrack });
  }

  // Screen share swaps the video each connection sends (no renegotiation);
  // stopping it, or the browser's own "Stop sharing", puts the camera back.
  function videoSenders() {
    var out = [];
    Object.keys(peers).forEach(function (id) {
      peers[id].pc.getSenders().forEach(function (sender) {
        if (sender.track && sender.track.kind === "video") { out.push(sender); }
      });
    });
    return out;
  }

  var shareButton = document.getElementById("toggle-screen");
  function stopSharing() {
    if (!screenTrack) { return; }
    var camera = localStream.getVideoTracks()[0];
    var ended = screenTrack;
    screenTrack = null;
    ended.stop();
    videoSenders().forEach(function (sender) { sender.replaceTrack(camera); });
    localVideo.srcObject = localStream;
    shareButton.setAttribute("aria-pressed", "false");
    shareButton.textContent = "Share screen";
    mediaState();
  }
  function startSharing() {
    return navigator.mediaDevices.getDisplayMedia({ video: true, audio: false }).then(function (stream) {
      screenTrack = stream.getVideoTracks()[0];
      screenTrack.addEventListener("ended", stopSharing);
      videoSenders().forEach(function (sender) { sender.replaceTrack(screenTrack); });
      localVideo.srcObject = stream;
      shareButton.setAttribute("aria-pressed", "true");
      shareButton.textContent = "Stop sharing";
      mediaState();
    }).catch(function () {
      say("Screen sharing did not start: it was cancelled or is not allowed here.", root.dataset.state);
    });
  }
  if (shareButton) {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getDisplayMedia) {
      shareButton.hidden = true;
    } else {
      shareButton.addEventListener("click", function () {
        if (!localStream) { return; }
        if (screenTrack) { stopSharing(); } else { startSharing(); }
      });
    }
  }

  var inRoom = document.getElementById("in-room-list");

  // Two devices in one room echo. A clinician is told, with one click to
  // silence the other device (its microphone and its speaker).
  var echoBox = document.getElementById("echo-warning");
  function echo(ids, list) {
    if (!echoBox) { return; }
    echoBox.textContent = "";
    echoBox.hidden = ids.length === 0;
    ids.forEach(function (id) {
      var person = list.filter(function (p) { return p.id === id; })[0];
      var name = person ? person.name : "another device";
      var p = document.createElement("p");
      p.textContent = "A second device (" + name + ") is in the call while the patient is with you: sound may echo. ";
      var button = document.createElement("button");
      button.type = "button";
      button.textContent = "Mute " + name + "'s microphone and speaker";
      button.addEventListener("click", function () { send({ type: "mute_device", participant: id }); });
      p.appendChild(button);
      echoBox.appendChild(p);
    });
  }

  function muteHere() {
    if (localStream) { localStream.getAudioTracks().forEach(function (t) { t.enabled = false; }); }
    videos.querySelectorAll("video").forEach(function (v) { v.muted = true; });
    root.dataset.mutedByClinician = "1";
    say("Your clinician muted this device's microphone and speaker to stop an echo.", "muted");
    return null;
  }

  function roster(list, removed) {
    (removed || []).forEach(drop);
    var present = {};
    waiting.textContent = "";
    if (inRoom) { inRoom.textContent = ""; }
    list.forEach(function (person) {
      present[person.id] = true;
      if (person.id === me) { return; }
      if (person.state === "waiting") {
        if (root.dataset.role !== "clinician") { return; }
        var li = document.createElement("li");
        li.textContent = person.name + " is waiting ";
        var admit = document.createElement("button");
        admit.type = "button";
        admit.textContent = "Let " + person.name + " in";
        admit.addEventListener("click", function () { send({ type: "admit", participant: person.id }); });
        li.appendChild(admit);
        waiting.appendChild(li);
      } else {
        if (inRoom && root.dataset.role === "clinician") {
          var item = document.createElement("li");
          item.textContent = person.name + " ";
          var out = document.createElement("button");
          out.type = "button";
          out.className = "secondary";
          out.textContent = "Remove " + person.name;
          out.addEventListener("click", function () { send({ type: "remove", participant: person.id }); });
          item.appendChild(out);
          inRoom.appendChild(item);
        }
        var known = peers[person.id];
        if (known && person.page && known.page && known.page !== person.page) { drop(person.id); }
        if (state === "admitted" && localStream) { peer(person.id, person.name).page = person.page || ""; }
      }
    });
    Object.keys(peers).forEach(function (id) {
      var p = peers[id];
      if (present[id]) {
        window.clearTimeout(p.goneTimer);
        p.goneTimer = null;
        p.video.parentNode.dataset.gone = "";
      } else if (!p.goneTimer) {
        // Their socket closed: a network change, most often. The connection
        // is kept for a while, so that when they come back ICE recovers it
        // instead of both sides starting over.
        p.video.parentNode.dataset.gone = "1";
        p.goneTimer = window.setTimeout(function () { drop(id); }, GONE_GRACE_MS);
      }
    });
    if (state === "admitted" && localStream && list.length > 0 && Object.keys(peers).length === 0) {
      say("Waiting for the others to join…", "alone");
    }
  }

  function connect() {
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + window.location.host + socketPath + "?device=" + device + "&page=" + pageId);
    socket.addEventListener("message", function (event) {
      var message;
      try { message = JSON.parse(event.data); } catch (e) { return; }
      if (message.type === "welcome" || message.type === "admitted") {
        handle(message);
        // The roster that follows may name peers already in the room.
        return;
      }
      handle(message);
    });
    socket.addEventListener("close", function (event) {
      if (event.code === 4403 || event.code === 4401 || event.code === 4410) {
        say(event.code === 4410 ? "You were removed from this visit." : "You can no longer take part in this visit.", "closed");
        Object.keys(peers).forEach(drop);
        return;
      }
      say("Reconnecting…", "reconnecting");
      window.setTimeout(connect, 2000);
    });
  }

  document.getElementById("toggle-audio").addEventListener("click", function (event) {
    if (!localStream) { return; }
    var track = localStream.getAudioTracks()[0];
    if (!track) { return; }
    track.enabled = !track.enabled;
    event.currentTarget.setAttribute("aria-pressed", String(!track.enabled));
    event.currentTarget.textContent = track.enabled ? "Mute" : "Unmute";
    mediaState();
  });
  document.getElementById("toggle-video").addEventListener("click", function (event) {
    if (!localStream) { return; }
    var track = localStream.getVideoTracks()[0];
    if (!track) { return; }
    track.enabled = !track.enabled;
    event.currentTarget.setAttribute("aria-pressed", String(!track.enabled));
    event.currentTarget.textContent = track.enabled ? "Camera off" : "Camera on";
    mediaState();
  });
  var roomMode = document.getElementById("room-mode");
  if (roomMode) {
    roomMode.addEventListener("change", function () { send({ type: "room_mode", with_patient: roomMode.checked }); });
  }
  document.getElementById("retry").addEventListener("click", function () { window.location.reload(); });

  // Every 15 seconds, each connection's quality goes to the technical log:
  // round-trip time, loss, resolution and frame rate. No media, no content.
  window.setInterval(function () {
    Object.keys(peers).forEach(function (id) {
      peers[id].pc.getStats().then(function (report) {
        var sample = { type: "quality", to: id };
        report.forEach(function (stat) {
          if (stat.type === "candidate-pair" && stat.nominated && typeof stat.currentRoundTripTime === "number") {
            sample.rtt_ms = Math.min(60000, stat.currentRoundTripTime * 1000);
          }
          if (stat.type === "inbound-rtp" && stat.kind === "video") {
            var received = stat.packetsReceived || 0;
            var lost = Math.max(0, stat.packetsLost || 0);
            if (received + lost > 0) { sample.loss = lost / (received + lost); }
            if (stat.frameWidth) { sample.width = stat.frameWidth; }
            if (stat.frameHeight) { sample.height = stat.frameHeight; }
            if (typeof stat.framesPerSecond === "number") { sample.fps = Math.min(240, stat.framesPerSecond); }
          }
        });
        send(sample);
      }).catch(function () {});
    });
  }, 15000);

  // For the pre-call check and the browser tests: frames decoded from every
  // other participant, read from each connection's statistics.
  function eachPeerStats(read) {
    return Promise.all(Object.keys(peers).map(function (id) {
      return peers[id].pc.getStats().then(read);
    }));
  }

  window.tandemRoom = {
    // The kind of path each connection uses: "host", "srflx", "prflx" or
    // "relay" at each end of the selected candidate pair.
    paths: function () {
      return eachPeerStats(function (report) {
        var pairId = null;
        report.forEach(function (stat) {
          if (stat.type === "transport" && stat.selectedCandidatePairId) { pairId = stat.selectedCandidatePairId; }
        });
        var pair = pairId ? report.get(pairId) : null;
        if (!pair || pair.state !== "succeeded") { return null; }
        return { local: report.get(pair.localCandidateId).candidateType, remote: report.get(pair.remoteCandidateId).candidateType };
      });
    },
    // Width and height of the video each connection receives.
    sizes: function () {
      return eachPeerStats(function (report) {
        var size = null;
        report.forEach(function (stat) {
          if (stat.type === "inbound-rtp" && stat.kind === "video" && stat.frameWidth) { size = [stat.frameWidth, stat.frameHeight]; }
        });
        return size;
      });
    },
    framesDecoded: function () {
      return eachPeerStats(function (report) {
        var frames = 0;
        report.forEach(function (stat) {
          if (stat.type === "inbound-rtp" && stat.kind === "video") { frames += stat.framesDecoded || 0; }
        });
        return frames;
      });
    }
  };

  connect();
}());
