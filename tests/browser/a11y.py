"""Automated accessibility basics, run in the page: every form control has a label (WCAG 1.3.1 /
4.1.2) and every visible text meets the contrast minimum against its background (WCAG 1.4.3:
4.5:1, 3:1 for large text). Returns readable problems; an empty list passes."""
from __future__ import annotations

_SCRIPT = r"""
() => {
  const problems = [];
  // -- labels --
  for (const el of document.querySelectorAll('input, select, textarea')) {
    const type = (el.getAttribute('type') || '').toLowerCase();
    if (['hidden', 'submit', 'button', 'reset'].includes(type)) continue;
    const named = (el.labels && el.labels.length) || el.getAttribute('aria-label') ||
                  el.getAttribute('aria-labelledby') || el.getAttribute('title');
    if (!named) problems.push('no label: ' + el.outerHTML.slice(0, 120));
  }
  // -- contrast --
  const parse = (c) => {
    const m = c.match(/rgba?\(([^)]+)\)/);
    if (!m) return null;
    const p = m[1].split(',').map((x) => parseFloat(x));
    return {r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1};
  };
  const lum = (c) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b);
  };
  const background = (el) => {
    // the first opaque background up the tree, blending translucent layers over white
    const layers = [];
    for (let n = el; n && n.nodeType === 1; n = n.parentElement) {
      const c = parse(getComputedStyle(n).backgroundColor);
      if (c && c.a > 0) { layers.push(c); if (c.a >= 1) break; }
    }
    let out = {r: 255, g: 255, b: 255};
    for (const c of layers.reverse()) {
      out = {r: c.r * c.a + out.r * (1 - c.a), g: c.g * c.a + out.g * (1 - c.a), b: c.b * c.a + out.b * (1 - c.a)};
    }
    return out;
  };
  const seen = new Set();
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const t = walker.currentNode;
    if (!t.textContent.trim()) continue;
    const el = t.parentElement;
    if (!el || seen.has(el)) continue;
    seen.add(el);
    if (el.closest('svg, .sr-only, option, [hidden]')) continue;
    const st = getComputedStyle(el);
    const rect = el.getBoundingClientRect();
    if (st.visibility === 'hidden' || st.display === 'none' || rect.width === 0 || rect.height === 0) continue;
    if (el.closest('details:not([open])') && !el.closest('summary')) continue;
    let fg = parse(st.color);
    if (!fg) continue;
    const bg = background(el);
    const opacity = parseFloat(st.opacity) * (el.closest('[disabled]') ? 0 : 1);
    if (opacity === 0) continue;     // disabled controls are exempt (WCAG 1.4.3)
    fg = {r: fg.r * fg.a + bg.r * (1 - fg.a), g: fg.g * fg.a + bg.g * (1 - fg.a), b: fg.b * fg.a + bg.b * (1 - fg.a)};
    const l1 = lum(fg), l2 = lum(bg);
    const ratio = (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05);
    const size = parseFloat(st.fontSize);
    const large = size >= 24 || (size >= 18.66 && parseInt(st.fontWeight, 10) >= 700);
    if (ratio < (large ? 3 : 4.5)) {
      problems.push(`contrast ${ratio.toFixed(2)}: "${t.textContent.trim().slice(0, 30)}" (${st.color} on rgb(${Math.round(bg.r)},${Math.round(bg.g)},${Math.round(bg.b)}))`);
    }
  }
  return problems;
}
"""


def a11y_problems(page) -> list[str]:
    # a click that navigates returns before the next document exists: check the page that loads
    page.wait_for_load_state("load")
    page.wait_for_function("document.body !== null")
    return page.evaluate(_SCRIPT)
