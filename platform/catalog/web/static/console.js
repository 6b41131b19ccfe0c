// Live events: tails a product over Server-Sent Events, with pause, resume and replay.
// The page works without it (the filter form still submits); nothing else uses script.
(function () {
  "use strict";
  var root = document.getElementById("live");
  if (!root) { return; }
  var list = document.getElementById("events");
  var state = document.getElementById("tail-state");
  var pause = document.getElementById("pause");
  var base = root.getAttribute("data-stream");
  var query = root.getAttribute("data-query");
  var maxRows = 200;
  var source = null;
  var lastSeq = 0;
  var paused = false;

  function say(text) { state.textContent = text; }

  function row(ev) {
    var li = document.createElement("li");
    li.className = "event";
    li.setAttribute("data-seq", ev.seq);
    var head = document.createElement("div");
    var strong = document.createElement("strong");
    strong.textContent = "#" + ev.seq + " " + ev.type;
    head.appendChild(strong);
    head.appendChild(document.createTextNode(" · subject " + ev.subject + " · " + ev.source + " · " + ev.time));
    li.appendChild(head);
    if (ev.redacted && ev.redacted.length) {
      var red = document.createElement("div");
      red.className = "muted";
      red.textContent = "Redacted (no PII grant): " + ev.redacted.join(", ");
      li.appendChild(red);
    }
    var pre = document.createElement("pre");
    pre.textContent = ev.error ? ev.error : JSON.stringify(ev.data, null, 2);
    li.appendChild(pre);
    return li;
  }

  function open(q) {
    source = new EventSource(base + (q ? "?" + q : ""));
    source.addEventListener("open", function () { say("Live: waiting for events."); });
    source.addEventListener("ce", function (m) {
      var ev = JSON.parse(m.data);
      lastSeq = ev.seq;
      list.insertBefore(row(ev), list.firstChild);
      while (list.children.length > maxRows) { list.removeChild(list.lastChild); }
      say("Live: " + list.children.length + " event(s) shown, newest first.");
    });
    source.addEventListener("failure", function (m) { say("Failed: " + JSON.parse(m.data)); source.close(); });
    source.addEventListener("error", function () { if (!paused) { say("Reconnecting…"); } });
  }

  pause.addEventListener("click", function () {
    if (!paused) {
      paused = true;
      if (source) { source.close(); }
      pause.textContent = "Resume";
      pause.setAttribute("aria-pressed", "true");
      say("Paused after event #" + lastSeq + ".");
      return;
    }
    paused = false;
    pause.textContent = "Pause";
    pause.setAttribute("aria-pressed", "false");
    var q = new URLSearchParams(query);
    q.delete("since");
    if (lastSeq > 0) { q.set("after", String(lastSeq)); }
    open(q.toString());
  });

  open(query);
})();
