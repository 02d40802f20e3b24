"""Podium: the router and the frame. Pages live in app_pages/, one per step of the lecture."""
import streamlit as st

from ui import sidebar, state
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
page = st.navigation([st.Page(p.path, title=p.title, icon=p.icon, default=p is PAGES[0]) for p in PAGES],
                     expanded=True)  # every step in view: collapsed, the menu hides all past the tenth
sidebar.render()
page.run()
