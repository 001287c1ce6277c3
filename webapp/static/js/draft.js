// Follow-up drafts: "Open in mail app" uses the edited subject and message.
// Without this script the link still opens the original draft.
(() => {
  "use strict";

  const enc = (text) => encodeURIComponent(text.replace(/\r?\n/g, "\r\n"));

  for (const box of document.querySelectorAll("[data-draft]")) {
    const subject = box.querySelector("[data-draft-subject]");
    const body = box.querySelector("[data-draft-body]");
    const open = box.querySelector("[data-draft-open]");
    if (!subject || !body || !open) continue;
    const update = () => {
      const to = encodeURIComponent(box.dataset.to || "").replace(/%40/g, "@");
      open.href = `mailto:${to}?subject=${enc(subject.value)}&body=${enc(body.value)}`;
    };
    subject.addEventListener("input", update);
    body.addEventListener("input", update);
    open.addEventListener("click", update);
  }
})();
