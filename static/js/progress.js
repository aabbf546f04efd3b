// Progress page: poll the status endpoint with backoff and update the bar in place.
// When the work is finished, load the results page. Without JavaScript a
// <meta refresh> in <noscript> does the same job more bluntly.
(function () {
  "use strict";
  var box = document.getElementById("progress");
  if (!box) { return; }
  var statusUrl = box.getAttribute("data-status-url");
  var bar = document.getElementById("progress-bar");
  var steps = document.getElementById("progress-steps");
  var current = document.getElementById("progress-current");
  var note = document.getElementById("progress-note");
  var delay = 1000;
  var maxDelay = 10000;

  function show(status) {
    var progress = status.progress;
    bar.max = progress.total;
    bar.value = progress.done;
    bar.textContent = Math.round(100 * progress.done / (progress.total || 1)) + "%";
    steps.textContent = "Step " + progress.done + " of " + progress.total;
    current.textContent = progress.current ? ": " + progress.current : "";
  }

  function finished(state) {
    return state === "done" || state === "failed" || state === "expired";
  }

  function poll() {
    fetch(statusUrl, { headers: { Accept: "application/json" }, cache: "no-store" })
      .then(function (response) { return response.json(); })
      .then(function (status) {
        if (finished(status.state)) {
          note.textContent = "Finished. Loading the results…";
          window.location.reload();
          return;
        }
        show(status);
        delay = Math.min(delay * 1.5, maxDelay);
        window.setTimeout(poll, delay);
      })
      .catch(function () {
        delay = maxDelay;
        note.textContent = "Lost contact with the server; trying again…";
        window.setTimeout(poll, delay);
      });
  }

  window.setTimeout(poll, delay);
})();
