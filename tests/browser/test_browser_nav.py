"""Real browser, each case on a fresh server: the first visitor never sees Streamlit's file-name
navigation ("app", "attention", "batches", ...), only app.py's st.navigation menu, and a first visit
straight to a page's URL shows that page inside app.py's frame (navigation and shared sidebar).

A `pages/` folder beside app.py puts Streamlit 1.67 in its legacy multipage mode until some run
calls st.navigation: that run first draws a navigation built from the file names, and a first
visit to /attention runs pages/attention.py alone (no app.py). The page files therefore live in
app_pages/ (see app.py). Every state the sidebar's navigation passes through is recorded in the
page by a MutationObserver installed before Streamlit's own scripts run, so even a state shown for
one frame is caught (sampling screenshots every 100 ms can miss one). `make run`'s `python -m ui.serve`
is visited at the root and at a page's URL; a bare `streamlit run app.py` at the root (what decides
the mode is the folder beside app.py, not the command that starts the server)."""
from __future__ import annotations

import pytest
from browser_helpers import wait_idle
from conftest import ROOT, start_server

from ui.pages import PAGES

TITLES = [p.title for p in PAGES]  # the only labels the menu may show
HEADINGS = {"": "Podium", "attention": "Self-attention"}
COMMANDS = {"streamlit run app.py": ("streamlit", "run", "app.py"), "python -m ui.serve": ("ui.serve",)}
# Installed before the page's scripts: logs every distinct (nav labels, sidebar content, h1) state.
# A nav link's innerText is "<icon ligature>\n\n<label>" with st.Page icons, "<label>" without.
RECORD_NAV = """
window.__navStates = [];
(() => {
  let last = null;
  const snap = () => {
    const labels = Array.from(document.querySelectorAll('[data-testid=stSidebarNavLink]'))
      .map(a => a.innerText.trim().split('\\n').pop().trim());
    const frame = document.querySelectorAll(
      '[data-testid=stSidebarUserContent] [data-testid=stElementContainer]').length;
    const h1 = (document.querySelector('h1') || {}).innerText || '';
    const key = JSON.stringify([labels, frame > 0, h1]);
    if (key !== last) {
      last = key;
      window.__navStates.push({ms: Math.round(performance.now()), labels, frame: frame > 0, h1});
    }
  };
  new MutationObserver(snap).observe(document, {subtree: true, childList: true, characterData: true});
})();
"""


def test_the_menu_titles_are_the_declared_pages():
    assert len(TITLES) >= 10 and TITLES[0] == "Home" and "6. Attention" in TITLES, TITLES


def test_no_pages_folder_beside_app():
    """Any pages/ folder beside app.py, even an empty one, switches Streamlit 1.67 to its legacy
    multipage mode on a fresh server (PagesManager checks only that the path exists)."""
    assert not (ROOT / "pages").exists(), (
        "pages/ beside app.py brings back Streamlit's file-name navigation: page files go in app_pages/")


@pytest.mark.browser
@pytest.mark.parametrize(("command", "path"), [("python -m ui.serve", ""), ("python -m ui.serve", "attention"),
                                               ("streamlit run app.py", "")],
                         ids=["ui.serve-root", "ui.serve-page-url", "streamlit-run-root"])
def test_first_visit_shows_only_the_real_navigation_inside_the_frame(page, tmp_path, command, path):
    proc, url = start_server(tmp_path, entry=COMMANDS[command])
    try:
        page.set_viewport_size({"width": 1400, "height": 1000})
        page.add_init_script(RECORD_NAV)
        page.goto(f"{url}/{path}", wait_until="commit")
        page.wait_for_selector(f"h1:has-text('{HEADINGS[path]}')", timeout=60_000)
        wait_idle(page)
        page.wait_for_timeout(1000)  # anything drawn after the page settles is recorded too
        states = page.evaluate("window.__navStates")
        errors = page.locator("[data-testid=stException]")
        assert errors.count() == 0, errors.first.inner_text()
    finally:
        proc.terminate()
        proc.wait(timeout=10)

    shown = [s for s in states if s["labels"]]
    assert shown, f"no navigation was ever drawn: {states}"
    foreign = [s for s in shown if not set(s["labels"]) <= set(TITLES)]
    assert not foreign, f"{command}, first visit to /{path}: file-name navigation shown: {foreign[0]}"
    final = states[-1]
    assert final["labels"] == TITLES, final  # all of them: app.py's navigation is expanded (no "View more")
    assert HEADINGS[path] in final["h1"], final
    assert final["frame"], f"/{path} ran without app.py's frame (the shared sidebar is empty): {final}"
