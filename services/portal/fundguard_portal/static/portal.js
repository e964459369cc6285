// Minimal progressive enhancement; every page works without it.
document.addEventListener("DOMContentLoaded", function () {
  // Move keyboard focus to an error message so screen readers announce it.
  var err = document.getElementById("error-box");
  if (err) { err.focus(); }

  // Drag and drop onto a file input's zone (the plain file input still works alone); the file's
  // SHA-256 is computed in the browser and shown before upload, to compare with the service's.
  document.querySelectorAll("[data-dropzone]").forEach(function (zone) {
    var input = zone.querySelector("input[type=file]");
    var out = zone.querySelector("[role=status]");
    function showHash() {
      if (!out || !input.files.length || !window.crypto || !crypto.subtle) { return; }
      var file = input.files[0];
      out.textContent = "正在计算 SHA-256…";
      file.arrayBuffer().then(function (buf) { return crypto.subtle.digest("SHA-256", buf); })
        .then(function (digest) {
          var hex = Array.prototype.map.call(new Uint8Array(digest), function (b) {
            return ("0" + b.toString(16)).slice(-2); }).join("");
          out.textContent = file.name + " · SHA-256：" + hex;
          out.setAttribute("data-sha256", hex);
        }).catch(function () { out.textContent = ""; });
    }
    input.addEventListener("change", showHash);
    zone.addEventListener("dragover", function (ev) { ev.preventDefault(); zone.classList.add("over"); });
    zone.addEventListener("dragleave", function () { zone.classList.remove("over"); });
    zone.addEventListener("drop", function (ev) {
      ev.preventDefault();
      zone.classList.remove("over");
      if (ev.dataTransfer && ev.dataTransfer.files.length) {
        input.files = ev.dataTransfer.files;
        input.dispatchEvent(new Event("change"));
      }
    });
  });

  // Long operations (claims import, screening run): submit in the background and poll the
  // progress the service reports; without script the form posts normally and waits.
  var STAGES = {start: "开始", hash: "计算文件指纹", prepare: "读取文件", load: "载入", validate: "校验",
                done: "完成"};
  document.querySelectorAll("form[data-long-operation]").forEach(function (form) {
    form.addEventListener("submit", function (ev) {
      if (!window.fetch || !window.FormData) { return; }
      ev.preventDefault();
      var what = form.getAttribute("data-long-operation");
      var box = document.getElementById("progress-box");
      var bar = document.getElementById("progress-bar");
      var text = document.getElementById("progress-text");
      var token = form.querySelector("input[name=progress_token]").value;
      box.hidden = false;
      bar.removeAttribute("value");
      document.getElementById("progress-label").textContent = what + "进度";
      text.textContent = what + "已提交，正在处理…";
      form.querySelectorAll("button").forEach(function (b) { b.disabled = true; });
      var finished = false;
      function poll() {
        if (finished) { return; }
        fetch("/screening/progress/" + encodeURIComponent(token), {credentials: "same-origin"})
          .then(function (r) { return r.ok ? r.json() : null; })
          .then(function (p) {
            if (p && !finished) {
              var stage = STAGES[p.stage] || ("规则 " + p.stage);
              if (p.total > 0) {
                var pct = Math.min(100, Math.round(100 * p.done / p.total));
                bar.value = pct;
                text.textContent = what + "：" + stage + " " + pct + "%（" + p.done + " / " + p.total + "）";
              } else {
                text.textContent = what + "：" + stage;
              }
            }
            if (!finished) { setTimeout(poll, 400); }
          }).catch(function () { if (!finished) { setTimeout(poll, 1000); } });
      }
      setTimeout(poll, 200);
      fetch(form.action, {method: "POST", body: new FormData(form), credentials: "same-origin",
                          headers: {"X-Requested-With": "fetch"}})
        .then(function (r) { return r.json(); })
        .then(function (res) {
          finished = true;
          if (res.ok) {
            bar.value = 100;
            text.textContent = res.message;
            window.location.assign(res.next);
          } else {
            text.textContent = what + "失败：" + [res.message].concat(res.details || []).join("；");
            form.querySelectorAll("button").forEach(function (b) { b.disabled = false; });
          }
        }).catch(function () {
          finished = true;
          text.textContent = what + "失败：请求未完成，请稍后再试";
          form.querySelectorAll("button").forEach(function (b) { b.disabled = false; });
        });
    });
  });

  // One submit per click: avoid double transitions on a slow network.
  document.querySelectorAll("form:not([data-long-operation])").forEach(function (form) {
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
