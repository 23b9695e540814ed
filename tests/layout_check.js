// What a person would see as broken on one tab of the page (tests/test_layout_browser.py): the page
// wider than the window, a component reaching outside it, content clipped inside a component, or two
// components drawn over each other. Components are Gradio's .block elements that hold no other
// visible block (a row or a form holds blocks; its children are what can overlap).
(panel) => {
  const root = document.querySelector(panel);
  const problems = [];
  const width = window.innerWidth;
  const pageWidth = document.documentElement.scrollWidth;
  if (pageWidth > width + 1) problems.push(`the page is ${pageWidth}px wide in a ${width}px window`);
  const shown = (el) => {
    const box = el.getBoundingClientRect();
    return el.offsetParent !== null && box.width > 0 && box.height > 0;
  };
  const blocks = [...root.querySelectorAll(".block")].filter(shown)
    .filter((el) => ![...el.querySelectorAll(".block")].some(shown));
  const name = (el) => (el.id || el.querySelector("label, span, button")?.innerText || el.className)
    .toString().trim().slice(0, 40);
  for (const el of blocks) {
    const box = el.getBoundingClientRect();
    if (box.right > width + 1 || box.left < -1) {
      problems.push(`${name(el)} reaches outside the window (${Math.round(box.left)}..${Math.round(box.right)})`);
    }
    if (el.scrollWidth > el.clientWidth + 1) {
      problems.push(`${name(el)} clips its content (${el.scrollWidth}px in ${el.clientWidth}px)`);
    }
  }
  for (let i = 0; i < blocks.length; i++) {
    for (let j = i + 1; j < blocks.length; j++) {
      const a = blocks[i].getBoundingClientRect(), b = blocks[j].getBoundingClientRect();
      const across = Math.min(a.right, b.right) - Math.max(a.left, b.left);
      const down = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
      if (across > 2 && down > 2) problems.push(`${name(blocks[i])} overlaps ${name(blocks[j])}`);
    }
  }
  return {components: blocks.length, problems};
}
