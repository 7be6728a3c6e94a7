// Forms whose fields depend on a "kind" (position alerts, channels): show only the fields
// of the chosen kind, and disable the others so they are not sent. Without JS every field
// shows and the server uses only those of the chosen kind.
//
// Markup: a form with [data-kind-form], a <select data-kind-select>, and the kind-dependent
// parts with data-kinds="kind other-kind".

function applyKind(form) {
  const select = form.querySelector("[data-kind-select]");
  if (!select) return;
  for (const part of form.querySelectorAll("[data-kinds]")) {
    const shown = part.dataset.kinds.split(" ").includes(select.value);
    part.hidden = !shown;
    for (const control of part.querySelectorAll("input, select, textarea")) {
      control.disabled = !shown;
    }
  }
}

function enhance(root) {
  for (const form of root.querySelectorAll("[data-kind-form]")) {
    applyKind(form);
  }
}

document.addEventListener("change", (event) => {
  if (event.target.matches("[data-kind-select]")) applyKind(event.target.closest("[data-kind-form]"));
});
// A form swapped back by htmx (with its messages) is set up again.
document.addEventListener("htmx:afterSwap", () => enhance(document));
enhance(document);
