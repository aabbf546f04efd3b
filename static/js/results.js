// Results page: while a deferred step (spreadsheet downloads, say) is being made,
// poll the status endpoint with backoff and reload once it has finished.
(function () {
  "use strict";
  var source = document.getElementById("status-source");
  if (!source || !document.querySelector('.deferred[data-status="working"]')) { return; }
  var statusUrl = source.getAttribute("data-status-url");
  var delay = 2000;

  function stillWorking(status) {
    return status.tasks.some(function (task) { return task.status === "working"; });
  }

  function poll() {
    fetch(statusUrl, { headers: { Accept: "application/json" }, cache: "no-store" })
      .then(function (response) { return response.json(); })
      .then(function (status) {
        if (!stillWorking(status)) { window.location.reload(); return; }
        delay = Math.min(delay * 1.5, 15000);
        window.setTimeout(poll, delay);
      })
      .catch(function () { window.setTimeout(poll, 15000); });
  }

  window.setTimeout(poll, delay);
})();
