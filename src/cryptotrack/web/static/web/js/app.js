// Shared behaviour of every page (an ES module, no build step). An area's own code lives in
// js/<area>.js and is loaded by its template.

// After htmx swaps a form back with errors, move focus to the first invalid field so a
// keyboard or screen-reader user lands on what needs fixing.
document.addEventListener("htmx:afterSwap", (event) => {
  const invalid = event.target.querySelector('[aria-invalid="true"]');
  if (invalid) invalid.focus();
});
