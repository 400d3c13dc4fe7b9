// A note's draft saves itself as its author types. Each save names the
// revision it started from; when another window saved first, the server
// answers 409 with that window's text and writes nothing. This page then
// stops saving, keeps what was typed here, shows the other text, and lets the
// author choose: keep this text (saved over the newer revision, on purpose) or
// take the other one. Nothing typed is ever dropped silently.
(function () {
  "use strict";
  var form = document.getElementById("note-editor");
  if (!form || !window.fetch) { return; }
  var url = form.dataset.autosave;
  var revision = form.querySelector('input[name="revision"]');
  var state = document.getElementById("note-save-state");
  var panel = document.getElementById("note-conflict-live");
  var theirsBox = panel.querySelector("[data-theirs]");
  var DELAY = 1500;
  var timer = null;
  var saving = false;
  var again = false;
  var conflicted = false;
  var theirs = null;
  var dirty = false;
  var submitWith = null;

  function say(text) { state.textContent = text; }

  function payload() {
    var data = new FormData(form);
    data.delete("action");
    return data;
  }

  function save() {
    timer = null;
    if (conflicted) { return; }
    if (saving) { again = true; return; }
    saving = true;
    dirty = false;
    say("Saving…");
    fetch(url, {
      method: "POST",
      body: payload(),
      credentials: "same-origin",
      headers: { "X-Requested-With": "fetch" },
    }).then(function (response) {
      return response.json().then(function (body) { return { status: response.status, body: body }; });
    }).then(function (result) {
      var body = result.body;
      if (result.status === 200) {
        revision.value = body.revision;
        say("Saved at " + body.saved_at + ".");
      } else if (result.status === 409 && body.conflict) {
        conflicted = true;
        theirs = body;
        showTheirs(body.fields);
        say("Not saved: this draft changed in another window.");
      } else {
        dirty = true;
        say(body.error || "Not saved. Check your connection; your text is still here.");
      }
    }).catch(function () {
      dirty = true;
      say("Not saved. Check your connection; your text is still here.");
    }).then(function () {
      saving = false;
      if (again && !conflicted) { again = false; save(); return; }
      if (submitWith && !conflicted) {
        // A Save or Sign pressed while this save was on its way: send it now,
        // from the revision just saved.
        var button = submitWith;
        submitWith = null;
        form.requestSubmit(button);
      }
    });
  }

  function showTheirs(fields) {
    var lines = [];
    form.querySelectorAll("[data-required-to-sign]").forEach(function (input) {
      var value = fields[input.name];
      if (value) {
        var label = form.querySelector('label[for="' + input.id + '"]');
        lines.push((label ? label.firstChild.textContent.trim() : input.name) + ":\n" + value);
      }
    });
    theirsBox.textContent = lines.join("\n\n") || "(empty)";
    panel.hidden = false;
    panel.setAttribute("tabindex", "-1");
    panel.focus();
  }

  function schedule() {
    dirty = true;
    if (conflicted) { return; }
    say("Editing…");
    if (timer) { clearTimeout(timer); }
    timer = setTimeout(save, DELAY);
  }

  form.addEventListener("input", schedule);
  form.addEventListener("change", schedule);

  panel.querySelector("[data-keep-mine]").addEventListener("click", function () {
    // Save this window's text over the newer revision, having seen it.
    revision.value = theirs.revision;
    conflicted = false;
    panel.hidden = true;
    save();
  });
  panel.querySelector("[data-take-theirs]").addEventListener("click", function () {
    form.querySelectorAll("[data-required-to-sign]").forEach(function (input) {
      input.value = theirs.fields[input.name] || "";
    });
    revision.value = theirs.revision;
    conflicted = false;
    dirty = false;
    panel.hidden = true;
    say("Showing the other window's text.");
  });

  // Signing or saving by hand sends the form, which carries the text; if a
  // save is on its way, it goes once that save is back.
  form.addEventListener("submit", function (event) {
    if (timer) { clearTimeout(timer); timer = null; }
    if (saving) {
      event.preventDefault();
      submitWith = event.submitter || null;
      return;
    }
    dirty = false;
  });
  window.addEventListener("beforeunload", function (event) {
    if (dirty || saving || conflicted) { event.preventDefault(); event.returnValue = ""; }
  });
}());
