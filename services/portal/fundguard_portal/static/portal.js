// Minimal progressive enhancement; every page works without it.
document.addEventListener("DOMContentLoaded", function () {
  // "填入此格式": copy a data template into the transition form's JSON field.
  document.querySelectorAll("button[data-fill]").forEach(function (btn) {
    btn.addEventListener("click", function () {
      var target = document.getElementById(btn.getAttribute("data-fill"));
      var source = document.getElementById(btn.getAttribute("data-from"));
      if (target && source) { target.value = source.textContent; target.focus(); }
    });
  });
  // Move keyboard focus to an error message so screen readers announce it.
  var err = document.getElementById("error-box");
  if (err) { err.focus(); }
  // One submit per click: avoid double transitions on a slow network.
  document.querySelectorAll("form").forEach(function (form) {
    form.addEventListener("submit", function (ev) {
      if (form.dataset.sent === "1") { ev.preventDefault(); return; }
      form.dataset.sent = "1";
      // disabled after the browser has taken the clicked button's name/value into the form data
      setTimeout(function () {
        form.querySelectorAll("button[type=submit]").forEach(function (b) { b.disabled = true; });
      }, 0);
    });
  });
});
