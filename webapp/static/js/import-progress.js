// Registrant import progress: poll the JSON progress URL and move the <progress> bar.
// Once the import has finished (or stopped), reload to show the summary.
// Without JavaScript the page's <noscript> meta refresh does the same job.
(function () {
  "use strict";
  var box = document.querySelector("[data-import-progress]");
  if (!box) return;
  var url = box.getAttribute("data-import-progress");
  var bar = box.querySelector("progress");
  var title = box.querySelector("h2");
  var number = new Intl.NumberFormat();
  var delay = 1000;

  function show(state) {
    if (bar) {
      bar.max = Math.max(state.total, 1);
      bar.value = state.processed;
    }
    ["processed", "created", "attached", "skipped"].forEach(function (name) {
      var el = box.querySelector('[data-field="' + name + '"]');
      if (el) el.textContent = number.format(state[name]);
    });
    if (title && state.status === "running") title.textContent = "Importing…";
  }

  function poll() {
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      })
      .then(function (state) {
        show(state);
        if (state.status === "done" || state.status === "failed") {
          window.location.reload();
          return;
        }
        delay = 1000;
        window.setTimeout(poll, delay);
      })
      .catch(function () {
        delay = Math.min(delay * 2, 15000); // offline or a hiccup: back off, keep trying
        window.setTimeout(poll, delay);
      });
  }

  window.setTimeout(poll, delay);
})();
