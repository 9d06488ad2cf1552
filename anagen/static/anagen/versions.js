// No lost updates on pages that save in place (htmx): a successful save answers with the
// record's new version in the X-Record-Version header; every form of the page gets it, so the
// page's other sections stay current for the person who saved. A refused save sends no header
// (the refused section comes back with its own, current, version). See anagen/web/versions.py.
document.addEventListener("htmx:afterSwap", (event) => {
  const xhr = event.detail && event.detail.xhr;
  const version = xhr && xhr.getResponseHeader("X-Record-Version");
  if (!version) return;
  document.querySelectorAll('input[name="record_version"]').forEach((input) => {
    input.value = version;
  });
});
