// Errors point to the control to change: an error message that names a field carries
// <span class="error-field for-NAME">; the control of that field (the element with the class
// field-NAME that is on screen, so the one in the open tab) is outlined, scrolled to and focused. The
// outline goes when the control is changed.
(() => {
  const openAround = (element) => {
    // a control in a closed accordion: open it (its header is the button just before its content)
    for (let parent = element.parentElement; parent; parent = parent.parentElement) {
      if (parent.offsetParent === null && parent.previousElementSibling?.matches("button.label-wrap")) {
        parent.previousElementSibling.click();
        return true;
      }
    }
    return false;
  };
  const point = (field, again = true) => {
    const matches = [...document.querySelectorAll(`.field-${CSS.escape(field)}`)];
    const shown = matches.find((element) => element.offsetParent !== null);
    if (!shown) {
      // in the open tab but inside a closed accordion: open it, then outline
      const panel = [...document.querySelectorAll("[role=tabpanel]")].find((tab) => tab.offsetParent !== null);
      const hidden = matches.find((element) => panel && panel.contains(element));
      if (again && hidden && openAround(hidden)) setTimeout(() => point(field, false), 300);
      return;
    }
    shown.classList.add("needs-fix");
    shown.scrollIntoView({ block: "center" });
    const input = shown.querySelector("input, textarea");
    if (input) input.focus({ preventScroll: true });
    const clear = () => shown.classList.remove("needs-fix");
    shown.addEventListener("input", clear, { once: true });
    shown.addEventListener("change", clear, { once: true });
  };
  new MutationObserver((changes) => {
    for (const change of changes) {
      for (const node of change.addedNodes) {
        if (!(node instanceof Element)) continue;
        const marks = node.matches(".error-field") ? [node] : node.querySelectorAll(".error-field");
        for (const mark of marks) {
          const named = [...mark.classList].find((name) => name.startsWith("for-"));
          if (named) point(named.slice(4));
        }
      }
    }
  }).observe(document.documentElement, { childList: true, subtree: true });
  const style = document.createElement("style");
  style.textContent = ".needs-fix{outline:3px solid #dc2626 !important;outline-offset:2px;border-radius:6px}";
  document.head.appendChild(style);
})();
