// uws-server web interface: follow active jobs without reloading (light polling of small
// JSON endpoints that answer server-rendered, escaped HTML), and tail running jobs' logs.
"use strict";
(function () {
  var POLL_MS = 1500;

  function getJSON(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); });
  }

  function followList(holder) {
    var url = holder.getAttribute("data-live-list");
    var rows = document.getElementById("job-rows");
    function tick() {
      getJSON(url).then(function (doc) {
        holder.innerHTML = doc.counts;
        rows.innerHTML = doc.rows;
        setTimeout(tick, doc.active ? POLL_MS : POLL_MS * 4);
      }).catch(function () { setTimeout(tick, POLL_MS * 4); });
    }
    setTimeout(tick, POLL_MS);
  }

  function followLog(pre, jobActive) {
    var url = pre.getAttribute("data-log");
    var offset = -1;
    function tick() {
      getJSON(url + "?offset=" + offset).then(function (doc) {
        if (doc.offset < offset) { pre.textContent = ""; }
        if (doc.text) {
          var atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
          pre.appendChild(document.createTextNode(doc.text));
          if (atEnd) { pre.scrollTop = pre.scrollHeight; }
        }
        offset = doc.offset;
        if (doc.active || doc.text) { setTimeout(tick, POLL_MS); }
      }).catch(function () { setTimeout(tick, POLL_MS * 4); });
    }
    tick();
  }

  function followJob(holder) {
    var url = holder.getAttribute("data-state");
    var parts = { summary: "job-summary", timeline: "job-timeline", results: "job-results",
                  actions: "job-actions" };
    function tick() {
      getJSON(url).then(function (doc) {
        Object.keys(parts).forEach(function (key) {
          var el = document.getElementById(parts[key]);
          if (el && el.innerHTML !== doc[key]) { el.innerHTML = doc[key]; }
        });
        holder.setAttribute("data-active", doc.active ? "true" : "false");
        if (doc.active) { setTimeout(tick, POLL_MS); }
      }).catch(function () { setTimeout(tick, POLL_MS * 4); });
    }
    if (holder.getAttribute("data-active") === "true") { setTimeout(tick, POLL_MS); }
  }

  function followBatch(holder) {
    var url = holder.getAttribute("data-state");
    function tick() {
      getJSON(url).then(function (doc) {
        var bar = document.getElementById("batch-bar");
        var rows = document.getElementById("batch-rows");
        if (bar.innerHTML !== doc.bar) { bar.innerHTML = doc.bar; }
        if (rows.innerHTML !== doc.rows) { rows.innerHTML = doc.rows; }
        var actions = document.getElementById("batch-actions");
        if (actions.innerHTML !== doc.actions) { actions.innerHTML = doc.actions; }
        holder.setAttribute("data-active", doc.active ? "true" : "false");
        if (doc.active) { setTimeout(tick, POLL_MS); }
      }).catch(function () { setTimeout(tick, POLL_MS * 4); });
    }
    if (holder.getAttribute("data-active") === "true") { setTimeout(tick, POLL_MS); }
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) { event.preventDefault(); }
  });

  document.addEventListener("DOMContentLoaded", function () {
    var list = document.querySelector("[data-live-list]");
    if (list) { followList(list); }
    var batch = document.getElementById("batch");
    if (batch) { followBatch(batch); }
    var job = document.getElementById("job");
    if (job) {
      followJob(job);
      document.querySelectorAll("pre[data-log]").forEach(function (pre) { followLog(pre); });
    }
  });
})();
