// Progressive enhancement only: a "Copy" button next to each command. Without JavaScript the
// command is still shown in full and can be selected by hand.
"use strict";
document.querySelectorAll("[data-copy]").forEach(function (block) {
  var button = document.createElement("button");
  button.type = "button";
  button.className = "copy";
  button.textContent = "Copy";
  button.addEventListener("click", function () {
    var text = block.textContent || "";
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(text).then(function () { button.textContent = "Copied"; },
        function () { button.textContent = "Select and copy"; });
    } else {
      button.textContent = "Select and copy";
    }
  });
  block.insertAdjacentElement("afterend", button);
});
