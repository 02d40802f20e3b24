"""Podium: the router and the frame. Pages live in app_pages/, one per step of the lecture."""
import streamlit as st

from ui import sidebar, state

# Not pages/: Streamlit 1.67 puts an app with a pages/ folder beside its entry script in the legacy
# multipage mode (it checks only that the path exists; no option names another folder or turns the
# mode off) until some run calls st.navigation. On a fresh server the first visitor then saw a menu
# of file names ("app", "attention", ...) for 3.5 s under `streamlit run app.py`, and a first visit
# to /attention ran that file alone, without this frame. client.showSidebarNavigation = false hides
# this menu too and leaves the page URL unframed; only a private class attribute kept the name.
# app_pages/ is the name Streamlit's own guidance gives; tests/test_browser_nav.py guards it.
st.set_page_config(page_title="Podium: build a GPT", page_icon="🎤", layout="wide")

PAGES = [
    st.Page("app_pages/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("app_pages/speeches.py", title="1. Speeches", icon=":material/record_voice_over:"),
    st.Page("app_pages/tokens.py", title="2. Tokens", icon=":material/abc:"),
    st.Page("app_pages/batches.py", title="3. Batches", icon=":material/grid_on:"),
    st.Page("app_pages/bigram.py", title="4. Bigram", icon=":material/table:"),
    st.Page("app_pages/trick.py", title="5. The trick", icon=":material/functions:"),
    st.Page("app_pages/attention.py", title="6. Attention", icon=":material/visibility:"),
    st.Page("app_pages/heads.py", title="Inside the heads", icon=":material/psychology:"),
    st.Page("app_pages/ladder.py", title="6b. Build it up", icon=":material/stairs:"),
    st.Page("app_pages/train.py", title="7. Train", icon=":material/model_training:"),
    st.Page("app_pages/generate.py", title="8. Generate", icon=":material/edit_note:"),
    st.Page("app_pages/compare.py", title="9. Compare", icon=":material/compare_arrows:"),
    st.Page("app_pages/speak.py", title="10. Speak like them", icon=":material/campaign:"),
]

state.configure_torch()
page = st.navigation(PAGES)
sidebar.render()
page.run()
