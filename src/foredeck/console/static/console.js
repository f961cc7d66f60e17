// foredeck console: the little glue htmx does not do by itself.
// Live state in the status bar, resume ids, pause while hidden, polling fallback,
// toasts, <dialog> confirmations and client-side checks on file inputs.
(function () {
  "use strict";
  var state = "connecting";
  var lastId = null;
  var topics = [];
  var fdSeen = window.fdSeen = [];

  function setState(next) {
    state = next;
    var el = document.getElementById("live-state");
    if (el) {
      el.textContent = { open: "live", connecting: "connecting…", error: "disconnected — retrying",
        paused: "paused (tab hidden)", polling: "polling" }[next] || next;
      el.dataset.state = next;
    }
  }

  function touch() {
    var el = document.getElementById("last-update");
    if (el) {
      var now = new Date();
      el.textContent = now.toLocaleTimeString();
      el.setAttribute("datetime", now.toISOString());
    }
  }

  // hx-trigger filters call these: live blocks refresh on SSE only while visible,
  // and poll only while the stream is not open.
  // Nothing is swapped while a confirmation is open: its button must stay in the page.
  function calm() { return !document.hidden && !document.querySelector("dialog[open]"); }
  window.fdLive = calm;
  window.fdPolling = function () { return calm() && state !== "open"; };
  window.fdLastEventId = function () { return lastId; };
  // A live refresh would throw away the rows a user is selecting for a batch action.
  // Nor may it replace a form where a file has been chosen but not yet sent.
  window.fdFormsIdle = function (el) {
    return !Array.prototype.some.call(el.querySelectorAll("input[type=file]"), function (i) {
      return i.files && i.files.length;
    });
  };
  window.fdNoSelection = function () { return !document.querySelector("input[name=ids]:checked"); };

  function resync() { htmx.trigger(document.body, "fd:resync"); touch(); }

  var live = document.getElementById("live");
  topics = live ? (live.dataset.topics || "").split(",").filter(Boolean) : [];
  // The first stream resumes from the moment the page was rendered: nothing that changed
  // before it opened is lost.
  if (live && live.dataset.since) { lastId = live.dataset.since; }
  if (!window.EventSource || !live) {
    document.addEventListener("DOMContentLoaded", function () { setState("polling"); });
  } else {
    // The SSE extension makes a new EventSource after a hard failure; carry the last id
    // in the URL then, since only the browser's own reconnects send Last-Event-ID.
    htmx.createEventSource = function (url) {
      if (lastId) {
        url += (url.indexOf("?") < 0 ? "?" : "&") + "last_event_id=" + encodeURIComponent(lastId);
      }
      var source = new EventSource(url, { withCredentials: true });
      var seen = function (ev) {
        if (ev.lastEventId) { lastId = ev.lastEventId; }
        // What arrived, so a page (or a test) can tell that nothing was missed.
        try { fdSeen.push.apply(fdSeen, JSON.parse(ev.data).items || []); } catch (e) { /* ignore */ }
        if (fdSeen.length > 500) { fdSeen.splice(0, fdSeen.length - 500); }
        touch();
      };
      topics.forEach(function (t) { source.addEventListener(t.replace(":", "."), seen); });
      source.addEventListener("hello", function () { setState(document.hidden ? "paused" : "open"); touch(); });
      source.addEventListener("resync", resync);
      window.fdSource = source;
      return source;
    };
  }

  document.addEventListener("htmx:sseOpen", function () {
    var wasDown = state === "error";
    setState(document.hidden ? "paused" : "open");
    if (wasDown) { touch(); }
  });
  document.addEventListener("htmx:sseError", function () { setState("error"); });
  document.addEventListener("visibilitychange", function () {
    if (document.hidden) { if (state === "open") { setState("paused"); } return; }
    if (state === "paused") { setState("open"); }
    // Catch up on what changed while updates were paused.
    resync();
  });
  document.addEventListener("htmx:afterSwap", touch);

  // Toasts: the server sends HX-Trigger {"fd:toast": {level, message}}.
  function toast(level, message) {
    var box = document.getElementById("toasts");
    if (!box) { return; }
    var item = document.createElement("div");
    item.className = "toast toast-" + level;
    item.setAttribute("role", level === "error" ? "alert" : "status");
    var label = document.createElement("strong");
    label.textContent = level === "error" ? "Error: " : "Done: ";
    item.appendChild(label);
    item.appendChild(document.createTextNode(message));
    var close = document.createElement("button");
    close.type = "button";
    close.className = "toast-close";
    close.setAttribute("aria-label", "Dismiss");
    close.textContent = "×";
    close.addEventListener("click", function () { item.remove(); });
    item.appendChild(close);
    box.appendChild(item);
    setTimeout(function () { item.remove(); }, level === "error" ? 9000 : 5000);
  }
  window.fdToast = toast;
  document.addEventListener("fd:toast", function (ev) {
    toast(ev.detail.level || "success", ev.detail.message || "");
  });
  document.addEventListener("htmx:sendError", function () {
    toast("error", "The server could not be reached.");
  });
  document.addEventListener("htmx:responseError", function (ev) {
    var xhr = ev.detail.xhr;
    if (xhr && !xhr.getResponseHeader("HX-Trigger")) {
      toast("error", "The request failed (" + xhr.status + ").");
    }
  });

  // hx-confirm opens the page's <dialog> instead of window.confirm.
  document.addEventListener("htmx:confirm", function (ev) {
    if (!ev.detail.question) { return; }
    ev.preventDefault();
    if (ev.detail.elt.dataset.fdConfirmed) {
      delete ev.detail.elt.dataset.fdConfirmed;
      ev.detail.issueRequest(true);
      return;
    }
    var dialog = document.getElementById("confirm-dialog");
    var question = ev.detail.question;
    if (question.indexOf("{count}") >= 0) {
      var form = ev.detail.elt.closest("form");
      var n = form ? document.querySelectorAll("input[name=ids][form='" + form.id + "']:checked").length : 0;
      if (!n) { toast("error", "Select at least one row first."); return; }
      question = question.replace("{count}", String(n));
    }
    document.getElementById("confirm-text").textContent = question;
    var ok = document.getElementById("confirm-ok");
    ok.textContent = ev.detail.elt.dataset.confirmLabel || "Confirm";
    dialog.returnValue = "";
    asking = ev.detail.elt;
    dialog.addEventListener("close", function handler() {
      dialog.removeEventListener("close", handler);
      var elt = asking;
      asking = null;
      if (dialog.returnValue === "ok") {
        if (document.body.contains(elt)) {
          ev.detail.issueRequest(true);
        } else {
          // htmx drops requests from detached elements; a swap that was already in
          // flight when the dialog opened may have replaced the button.
          var twin = successor(elt);
          if (twin) {
            twin.dataset.fdConfirmed = "1";
            if (twin.tagName === "FORM") { twin.requestSubmit(); } else { twin.click(); }
          }
          else { toast("error", "The page changed before the action was sent; try again."); }
        }
      }
      if (missed) { missed = false; resync(); }
    });
    dialog.showModal();
    ok.focus();
  });

  // The element the open confirmation will act on, and whether a live swap was held back.
  var asking = null;
  var missed = false;
  var VERBS = ["hx-post", "hx-put", "hx-patch", "hx-delete"];
  function successor(elt) {
    if (elt.id) { return document.getElementById(elt.id); }
    var verb = VERBS.filter(function (v) { return elt.hasAttribute(v); })[0];
    if (!verb) { return null; }
    var match = Array.prototype.filter.call(document.querySelectorAll("[" + verb + "]"), function (c) {
      return c.outerHTML === elt.outerHTML;
    });
    return match.length === 1 ? match[0] : null;
  }
  // A refresh sent before the dialog opened may answer while it is open: hold it back
  // rather than replace the button the user is confirming, and catch up on close.
  document.addEventListener("htmx:beforeSwap", function (ev) {
    if (asking && ev.detail.target && ev.detail.target.contains(asking) && ev.detail.elt !== asking) {
      ev.detail.shouldSwap = false;
      missed = true;
    }
  });

  // Checks a browser can make before uploading (the server checks again).
  document.addEventListener("change", function (ev) {
    var input = ev.target;
    if (!input.matches || !input.matches("input[type=file][data-max-bytes]")) { return; }
    var file = input.files && input.files[0];
    var error = "";
    var exts = (input.dataset.extensions || "").split(",").filter(Boolean);
    if (file && exts.length && !exts.some(function (e) { return file.name.toLowerCase().endsWith(e); })) {
      error = "The file must end in " + exts.join(" or ") + ".";
    } else if (file && file.size > Number(input.dataset.maxBytes)) {
      error = "The file is larger than the limit of " + input.dataset.maxLabel + ".";
    }
    input.setCustomValidity(error);
    var note = document.getElementById(input.id + "-error");
    if (note) { note.textContent = error; }
  });

  // Upload progress for forms that declare a progress element.
  document.addEventListener("htmx:xhr:progress", function (ev) {
    var form = ev.target.closest ? ev.target.closest("form[data-upload-progress]") : null;
    if (!form || !ev.detail.lengthComputable) { return; }
    var bar = document.getElementById(form.dataset.uploadProgress);
    if (bar) { bar.hidden = false; bar.value = Math.round(ev.detail.loaded / ev.detail.total * 100); }
  });

  // A secret shown once (a new API key): select it on focus, copy it with its button.
  document.addEventListener("focusin", function (ev) {
    if (ev.target.matches && ev.target.matches("input[data-select-on-focus]")) { ev.target.select(); }
  });
  document.addEventListener("click", function (ev) {
    var button = ev.target.closest ? ev.target.closest("button[data-copy]") : null;
    var field = button && document.querySelector(button.dataset.copy);
    if (!field) { return; }
    field.select();
    var copied = function () { toast("success", "Copied to the clipboard"); };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(field.value).then(copied, function () {
        toast("error", "Copying failed; the key is selected, press Ctrl+C");
      });
    } else if (document.execCommand("copy")) {
      copied();
    }
  });

  // Select-all for batch tables.
  document.addEventListener("change", function (ev) {
    var box = ev.target;
    if (!box.matches || !box.matches("input[data-select-all]")) { return; }
    document.querySelectorAll("input[name='" + box.dataset.selectAll + "']").forEach(function (c) {
      c.checked = box.checked;
    });
  });
})();

// Queue charts: uPlot over the JSON the server put next to them.
(function () {
  "use strict";
  var charts = [];
  function css(name) { return getComputedStyle(document.documentElement).getPropertyValue(name).trim(); }
  function draw() {
    var source = document.getElementById("queue-series");
    if (!source || !window.uPlot) { return; }
    var d = JSON.parse(source.textContent);
    charts.forEach(function (c) { c.destroy(); });
    charts = [];
    var axis = { stroke: css("--muted"), grid: { stroke: css("--line") }, ticks: { stroke: css("--line") } };
    var specs = {
      depth: [[d.t, d.depth, d.running], [["Queued", css("--accent")], ["Running", css("--ok")]]],
      throughput: [[d.t, d.succeeded_per_min, d.failed_per_min], [["Succeeded/min", css("--ok")], ["Failed/min", css("--err")]]],
      failures: [[d.t, d.failed_last_hour], [["Failed last hour", css("--err")]]]
    };
    document.querySelectorAll("[data-chart]").forEach(function (el) {
      var spec = specs[el.dataset.chart];
      if (!spec) { return; }
      var series = [{}].concat(spec[1].map(function (s) { return { label: s[0], stroke: s[1], width: 2, spanGaps: true }; }));
      charts.push(new uPlot({ width: Math.max(el.clientWidth, 240), height: 180, series: series,
        axes: [axis, axis], legend: { show: true } }, spec[0], el));
    });
  }
  document.addEventListener("DOMContentLoaded", draw);
  document.addEventListener("htmx:afterSettle", draw);
})();
