// Confirmation before sign, lock, deactivate, cancel, withdraw, remove: a form (or its submit
// button) with data-confirm="question" asks first; the server refuses to act without confirm=yes
// and shows a confirmation page instead (the no-JavaScript path).
document.addEventListener("submit", (event) => {
  const form = event.target;
  const submitter = event.submitter;
  const question = (submitter && submitter.dataset.confirm) || form.dataset.confirm;
  if (!question) return;
  if (!window.confirm(question)) {
    event.preventDefault();
    return;
  }
  let input = form.querySelector('input[name="confirm"][type="hidden"]');
  if (!input) {
    input = document.createElement("input");
    input.type = "hidden";
    input.name = "confirm";
    form.appendChild(input);
  }
  input.value = "yes";
});
