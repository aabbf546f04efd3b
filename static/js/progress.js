// Progress page: poll the status endpoint with backoff and update the bar in place.
// When the work is finished, say so (for screen readers too) and load the results.
// Without JavaScript a <meta refresh> in <noscript> does the same job more bluntly.
(function () {
  "use strict";
  var box = document.getElementById("progress");
  if (!box) { return; }
  var statusUrl = box.getAttribute("data-status-url");
  var bar = document.getElementById("progress-bar");
  var steps = document.getElementById("progress-steps");
  var current = document.getElementById("progress-current");
  var timing = document.getElementById("progress-timing");
  var note = document.getElementById("progress-note");
  var delay = 1000;
  var maxDelay = 10000;

  // As the page writes times before it is updated: UTC, as every time on the site is.
  function utcTime(text) {
    return new Date(text).toISOString().slice(11, 19) + " UTC";
  }

  function seconds(value) {
    return value < 90 ? value + " s" : Math.round(value / 60) + " min";
  }

  // A guess from the steps so far, shown only once two steps give something to go on.
  function estimate(progress) {
    if (progress.done < 2 || progress.done >= progress.total || progress.elapsed < 3) { return ""; }
    var left = Math.round(progress.elapsed / progress.done * (progress.total - progress.done));
    return "; about " + seconds(left) + " to go, judging by the steps so far";
  }

  // Text written only when it changes: the step and the note are live regions, which a
  // screen reader reads again at each change (the time, which changes each poll, is not).
  function write(element, text) {
    if (element.textContent.trim() !== text) { element.textContent = text; }
  }

  function show(status) {
    var progress = status.progress;
    bar.max = progress.total || 1;
    bar.value = progress.done;
    bar.textContent = Math.round(100 * progress.done / (progress.total || 1)) + "%";
    // The step under way is the one after those done.
    write(steps, progress.current ? "Step " + (progress.done + 1) + " of " + progress.total
      : progress.total ? progress.done + " of " + progress.total + " steps done"
      : "Not started yet");
    write(current, progress.current ? ": " + progress.current : "");
    timing.textContent = "Started " + seconds(progress.elapsed) + " ago" + estimate(progress) + ".";
    if (status.retry_at) {
      var failed = status.waiting_on;
      write(note, (failed ? "The step “" + failed.title + "” failed: " + failed.message + " "
        : "A step failed. ") + "This may pass (a busy server, say): Assay will try again at " +
        utcTime(status.retry_at) + ".");
    } else if (progress.quiet_for) {
      write(note, "No word from the worker for " + seconds(progress.quiet_for) + ". If it has " +
        "stopped, the work goes to another within a minute; the steps done then go fast.");
    } else if (status.state === "pending") {
      // A run sent again (its worker stopped, a retry come due) goes on from its steps done.
      write(note, progress.done ? "Waiting for a worker to carry on…" : "Waiting for a worker to start…");
    } else {
      write(note, "");
    }
  }

  function finished(state) {
    return state === "done" || state === "failed" || state === "expired";
  }

  function poll() {
    fetch(statusUrl, { headers: { Accept: "application/json" }, cache: "no-store" })
      .then(function (response) {
        // Deleted or expired meanwhile: the page itself says so, and there is no more to wait for.
        if (response.status === 404 || response.status === 410) {
          window.location.reload();
          return null;
        }
        return response.json();
      })
      .then(function (status) {
        if (status === null) { return; }
        if (finished(status.state)) {
          note.textContent = "Finished. Loading the results…";
          // A moment for screen readers to announce it before the page changes.
          window.setTimeout(function () { window.location.reload(); }, 300);
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
