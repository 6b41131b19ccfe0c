package web_test

// a11yScript checks the page in the browser and returns its accessibility problems: the
// document language, one main landmark and one h1, headings without skipped levels, a label
// for every form control, a name for every button, link and graphic, and WCAG AA contrast
// (4.5:1, or 3:1 for large text) of every text against its effective background.
const a11yScript = `(() => {
  const problems = [];
  const short = el => el.outerHTML.slice(0, 90);
  if (!document.documentElement.lang) problems.push("html has no lang");
  if (document.querySelectorAll("main").length !== 1) problems.push("want exactly one main landmark");
  if (!document.querySelector("nav[aria-label]")) problems.push("no labelled nav landmark");
  if (document.querySelectorAll("h1").length !== 1) problems.push("want exactly one h1");
  let level = 0;
  for (const h of document.querySelectorAll("h1,h2,h3,h4,h5,h6")) {
    const l = +h.tagName[1];
    if (l > level + 1) problems.push("heading level skipped before " + short(h));
    level = l;
  }
  for (const el of document.querySelectorAll("input,select,textarea")) {
    if (el.type === "hidden" || el.type === "submit" || el.type === "button") continue;
    if (!(el.labels && el.labels.length) && !el.getAttribute("aria-label") && !el.getAttribute("aria-labelledby")) problems.push("unlabelled control " + short(el));
  }
  for (const el of document.querySelectorAll("button,a[href]")) {
    if (!(el.textContent.trim() || el.getAttribute("aria-label"))) problems.push("nameless " + short(el));
  }
  for (const svg of document.querySelectorAll("svg")) {
    if (!svg.querySelector("title") && !svg.getAttribute("aria-label") && !svg.getAttribute("aria-labelledby")) problems.push("svg without a text alternative");
  }
  const rgb = s => { const m = s.match(/[\d.]+/g); return m ? m.map(Number) : [0, 0, 0, 0]; };
  const lum = ([r, g, b]) => { const f = c => { c /= 255; return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4); }; return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b); };
  const background = el => {
    for (let e = el; e && e.nodeType === 1; e = e.parentElement) {
      const c = rgb(getComputedStyle(e).backgroundColor);
      if (c.length < 4 || c[3] > 0) return c;
    }
    return [255, 255, 255];
  };
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const seen = new Set();
  while (walker.nextNode()) {
    const el = walker.currentNode.parentElement;
    if (!walker.currentNode.textContent.trim() || seen.has(el) || el.closest("svg")) continue;
    seen.add(el);
    const st = getComputedStyle(el);
    if (st.visibility === "hidden" || st.display === "none" || el.getClientRects().length === 0) continue;
    const a = lum(rgb(st.color)), b = lum(background(el));
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    const size = parseFloat(st.fontSize), bold = +st.fontWeight >= 700;
    const need = size >= 24 || (bold && size >= 18.66) ? 3 : 4.5;
    if (ratio < need) problems.push("contrast " + ratio.toFixed(2) + " < " + need + ": " + short(el));
  }
  return problems;
})()`
