// Small behaviours for the bridge's pages, kept out of the HTML so the Content-Security-Policy
// can forbid inline scripts: a <select data-autosubmit> sends its form when changed.
document.addEventListener("change", function (event) {
  var target = event.target;
  if (target && target.matches && target.matches("select[data-autosubmit]") && target.form) {
    target.form.submit();
  }
});
