"""Sphinx extension: the proof index lists each result by number and title, per chapter.

sphinx-proof's index page (prf-prf.html) lists the blocks by their labels ("def-gradient")
with the source file's name: a reader cannot tell what is where. Here it lists "Definition
1.2: Gradient" under the chapter's title, in the order of the book. sphinx-proof has no
setting for its index entries, so its index's ``generate`` is replaced; the titles are
collected while the pages are read (its nodes carry them, its environment does not).
"""

from __future__ import annotations

from docutils import nodes
from sphinx.application import Sphinx
from sphinx_proof.domain import ProofIndex

TITLES = "proof_index_titles"  # env attribute: label -> (docname, title)


def collect_titles(app: Sphinx, doctree: nodes.document) -> None:
    titles = getattr(app.env, TITLES, {})
    for node in doctree.findall(nodes.Element):
        if "realtype" in node.attributes and node.get("label"):
            title = str(node.get("title", "")).strip().removeprefix("(").removesuffix(")")
            titles[node["label"]] = (app.env.docname, title.strip())
    setattr(app.env, TITLES, titles)


def purge_titles(app: Sphinx, env, docname: str) -> None:
    titles = getattr(env, TITLES, {})
    for label in [k for k, (doc, _) in titles.items() if doc == docname]:
        del titles[label]


def generate(self, docnames=None):
    env = self.domain.env
    titles = getattr(env, TITLES, {})
    # the root page's toctrees list every page in the book's order (_toc.yml)
    order = {doc: i for i, doc in enumerate(env.toctree_includes.get(env.config.root_doc, []))}
    groups: dict[tuple[int, str], list] = {}  # (book order, chapter title) -> entries
    for label, values in getattr(env, "proof_list", {}).items():
        docname, kind = values["docname"], values["realtype"]
        number = env.toc_fignumbers.get(docname, {}).get(values["countertype"], {}).get(label)
        shown = kind.title() + (" " + ".".join(map(str, number)) if number else "")
        title = titles.get(label, (docname, ""))[1]
        chapter = env.titles[docname].astext() if docname in env.titles else docname
        groups.setdefault((order.get(docname, 1 << 30), chapter), []).append(
            (number or (), [f"{shown}: {title}" if title else shown, 0, docname, label, "",
                            "", ""]))
    content = [(chapter, [entry for _, entry in sorted(entries, key=lambda e: e[0])])
               for (_, chapter), entries in sorted(groups.items())]
    return content, False


def setup(app: Sphinx) -> dict:
    ProofIndex.generate = generate
    app.connect("doctree-read", collect_titles)
    app.connect("env-purge-doc", purge_titles)
    return {"version": "1.0", "parallel_read_safe": False, "parallel_write_safe": True}
