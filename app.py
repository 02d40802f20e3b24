"""Podium: the router and the frame. Pages live in app_pages/, one per step of the lecture."""
import streamlit as st

from ui import journey, sidebar, state
from ui.pages import PAGES

# Not pages/: Streamlit 1.67 puts an app with a pages/ folder beside its entry script in the legacy
# multipage mode (it checks only that the path exists; no option names another folder or turns the
# mode off) until some run calls st.navigation. On a fresh server the first visitor then saw a menu
# of file names ("app", "attention", ...) for 3.5 s under `streamlit run app.py`, and a first visit
# to /attention ran that file alone, without this frame. client.showSidebarNavigation = false hides
# this menu too and leaves the page URL unframed; only a private class attribute kept the name.
# app_pages/ is the name Streamlit's own guidance gives; tests/browser/test_browser_nav.py guards it.
st.set_page_config(page_title="Podium: build a GPT", page_icon="🎤", layout="wide")


state.configure_torch()
routes = [(st.Page(p.path, title=p.title, icon=p.icon, default=p is PAGES[0]), p) for p in PAGES]
page = st.navigation([route for route, _ in routes],
                     expanded=True)  # every step in view: collapsed, the menu hides all past the tenth
current = next(p for route, p in routes if route.url_path == page.url_path)  # the PageInfo it was built from
sidebar.render()
journey.diagram(current.path)
# The "Next" link is drawn before the page runs, under an empty container the page then fills: a page
# that calls st.stop() leaves the run stopped, and Streamlit raises StopException again at the next
# element, so nothing drawn after page.run() (even in a finally) would ever reach the browser.
body = st.container()
journey.footer(current.path)
with body:
    page.run()
