// The book's own fixes to the theme stack's behaviour. Loaded on every page (_config.yml).
"use strict";

// The sidebar buttons of the article header ("site navigation", "on this page").
// sphinx-book-theme draws a second copy of each button in the article header, but
// pydata-sphinx-theme binds its click handler with querySelector, to the first copy only,
// which sits in a header hidden at every width; so the visible buttons did nothing and a
// phone reader could reach neither the chapter list nor the page contents. A click on any
// other copy now acts as a click on the bound one, so the themes' own code opens the
// sidebar (a drawer on narrow screens, the collapsible column on wide ones).
document.addEventListener("DOMContentLoaded", () => {
  for (const kind of ["primary-toggle", "secondary-toggle"]) {
    const [bound, ...copies] = document.querySelectorAll(`.${kind}`);
    for (const copy of copies) {
      copy.addEventListener("click", (event) => {
        event.preventDefault();
        event.stopPropagation();
        bound.click();
      });
    }
  }
});

// Search result snippets: Sphinx cuts them from each page's HTML, where a formula is still
// TeX source (\(\nabla L\)), and no MathJax runs on the results. Formulas become readable
// text (∇L) before the snippet is cut.
const TEX_SYMBOLS = {
  nabla: "∇", partial: "∂", cdot: "·", times: "×", top: "ᵀ", approx: "≈", le: "≤",
  leq: "≤", ge: "≥", geq: "≥", ne: "≠", neq: "≠", in: "∈", to: "→", mapsto: "↦",
  infty: "∞", sum: "Σ", prod: "Π", sqrt: "√", pm: "±", ldots: "…", cdots: "⋯", dots: "…",
  alpha: "α", beta: "β", gamma: "γ", delta: "δ", epsilon: "ε", varepsilon: "ε", eta: "η",
  theta: "θ", lambda: "λ", mu: "μ", sigma: "σ", phi: "φ", varphi: "φ", psi: "ψ",
  omega: "ω", Delta: "Δ", Lambda: "Λ", Sigma: "Σ", quad: " ", qquad: " ", Vert: "‖",
  lVert: "‖", rVert: "‖", langle: "⟨", rangle: "⟩", circ: "∘", otimes: "⊗", odot: "⊙",
  R: "ℝ",
};
const SUPERSCRIPTS = { "2": "²", "3": "³", "T": "ᵀ", "-1": "⁻¹", "\\top": "ᵀ" };

function texToText(tex) {
  return tex
    .replace(/\\[()[\]]|\$/g, " ")
    .replace(/\\(?:mathbb|mathbf|mathrm|operatorname|text|boldsymbol)\s*\{([^{}]*)\}/g,
      (_, body) => (body === "R" ? "ℝ" : body))
    .replace(/\\frac\s*\{([^{}]*)\}\s*\{([^{}]*)\}/g, "$1/$2")
    .replace(/\^\{?(2|3|T|-1|\\top)\}?/g, (_, power) => SUPERSCRIPTS[power])
    .replace(/\\(left|right|big|Big|bigg|Bigg)\b/g, "")
    .replace(/\\\|/g, "‖")
    .replace(/\\([A-Za-z]+)/g, (whole, name) => TEX_SYMBOLS[name] ?? "")
    .replace(/\\[,;:! ]/g, " ")
    .replace(/[{}]/g, "")
    .replace(/\s+/g, " ")
    .trim();
}

document.addEventListener("DOMContentLoaded", () => {
  // searchtools.js declares `const Search`: a global binding, not a property of window
  if (typeof Search === "undefined" || !Search.htmlToText) return;
  const htmlToText = Search.htmlToText;
  Search.htmlToText = (htmlString, anchor) => {
    const page = new DOMParser().parseFromString(htmlString, "text/html");
    page.querySelectorAll(".math .headerlink").forEach((link) => link.remove());
    page.querySelectorAll(".math").forEach((math) => {
      math.textContent = ` ${texToText(math.textContent)} `;
    });
    return htmlToText(page.documentElement.outerHTML, anchor);
  };
});

// Inline formulas do not wrap (MathJax 3 breaks no lines), so on a phone a long one ran
// past the screen's edge, cut off. Each inline formula wider than its line becomes a box
// of its own that scrolls sideways (book.css: .math-scroll), with the scroll shadow cue.
function boxWideInlineMath() {
  document.querySelectorAll(".bd-content mjx-container:not([display='true'])").forEach((math) => {
    math.classList.remove("math-scroll");
    const line = math.parentElement.getBoundingClientRect();
    const box = math.getBoundingClientRect();
    if (box.right > line.right + 1 || box.width > line.width) math.classList.add("math-scroll");
  });
}
document.addEventListener("DOMContentLoaded", () => {
  const typeset = window.MathJax?.startup?.promise;
  if (!typeset) return;
  typeset.then(boxWideInlineMath);
  let pending;
  window.addEventListener("resize", () => {
    clearTimeout(pending);
    pending = setTimeout(boxWideInlineMath, 200);
  });
});
